import type { Listr as ListrClass } from "listr2";
import { formatReason, formatRemovalReason, summarizeReasons, type EngineEvent } from "@stepwise/core/engine";
import { formatPlan } from "./format-plan.js";
import { removalDetails, type Reporter, type ReporterOptions } from "./reporter.js";

interface Pending {
  resolve: (skipMessage?: string) => void;
  reject: (error: Error) => void;
  task?: { title: string; output: string; skip(message?: string): void };
}

/** Removals share the task map with steps; a key no step name can take. */
const removalKey = (name: string) => `\0remove ${name}`;

/**
 * Live progress in a terminal (listr2): one line per step that runs, with its reason while
 * waiting, its latest progress message while running, and ✔/✖ with durations when done.
 */
export function createLiveReporter(options: ReporterOptions, Listr: typeof ListrClass): Reporter {
  const pending = new Map<string, Pending>();
  let running: Promise<unknown> | undefined;
  const settle = (step: string, how: { skip?: string; error?: Error }) => {
    const entry = pending.get(step);
    if (!entry) return;
    pending.delete(step);
    if (how.error) entry.reject(how.error);
    else entry.resolve(how.skip);
  };
  return {
    onEvent(event: EngineEvent) {
      switch (event.type) {
        case "plan": {
          if (options.printPlan !== false) process.stdout.write(`${formatPlan(event.plan, options)}\n`);
          const rows = [
            ...event.plan.steps.filter((s) => s.action === "run").map((s) => ({ key: s.name, title: `${s.name}  ${summarizeReasons(s.reasons, 1)[0] ?? ""}` })),
            ...event.plan.removals.map((r) => ({ key: removalKey(r.name), title: `remove ${r.name}  ${formatRemovalReason(r.reason)}` })),
          ];
          if (rows.length === 0) return;
          const list = new Listr(
            rows.map((row) => ({
              title: row.title,
              task: (_ctx: unknown, task: Pending["task"] & object) =>
                new Promise<void>((resolve, reject) => {
                  pending.set(row.key, {
                    task,
                    reject,
                    resolve: (skip) => {
                      if (skip) task.skip(`${row.title.split("  ")[0]}: ${skip}`);
                      resolve();
                    },
                  });
                }),
            })),
            { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false, showTimer: true } as never },
          );
          running = list.run().catch(() => {});
          break;
        }
        case "step-start": {
          const task = pending.get(event.step)?.task;
          if (task) task.title = `${event.step}  ${summarizeReasons(event.reasons, 1)[0] ?? ""}`;
          break;
        }
        case "step-done":
          settle(event.step, {});
          break;
        case "step-skip":
          settle(event.step, { skip: formatReason(event.reasons[0] ?? { kind: "unchanged" }) });
          break;
        case "step-failed":
          settle(event.step, { error: new Error(`${event.step}: ${event.error.message}`) });
          break;
        case "step-blocked":
          settle(event.step, { skip: `not run, ${event.by} failed` });
          break;
        case "remove-start":
          break;
        case "remove-done": {
          const task = pending.get(removalKey(event.step))?.task;
          if (task) task.title = `removed ${event.step}${removalDetails(event)}`;
          settle(removalKey(event.step), {});
          break;
        }
        case "remove-failed":
          settle(removalKey(event.step), { error: new Error(`remove ${event.step}: ${event.error.message}`) });
          break;
        case "log": {
          const task = pending.get(event.step)?.task;
          if (task && (event.level === "progress" || event.level === "info" || options.verbose)) task.output = event.message;
          else if (event.level === "warn") process.stderr.write(`warning (${event.step}): ${event.message}\n`);
          break;
        }
        case "warning":
          process.stderr.write(`warning: ${event.message}\n`);
          break;
      }
    },
    async close() {
      for (const step of [...pending.keys()]) settle(step, { skip: "not run" });
      await running;
    },
  };
}
