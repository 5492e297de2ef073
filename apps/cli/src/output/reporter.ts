import { formatReason, formatRemovalReason, summarizeReasons, type EngineEvent } from "@stepwise/core/engine";
import { formatPlan } from "./format-plan.js";

export interface Reporter {
  onEvent(event: EngineEvent): void;
  /** Waits for the live display to finish drawing. */
  close(): Promise<void>;
}

export interface ReporterOptions {
  json: boolean;
  verbose: boolean;
  /** Live progress (a TTY that is not CI). */
  live: boolean;
  /** Print the plan when the engine reports it. Default true. */
  printPlan?: boolean;
}

export function isLiveTerminal(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.CI && process.env.TERM !== "dumb";
}

/** Live task list in a terminal, plain timestamped lines otherwise, nothing but JSON with --json. */
export async function createReporter(options: ReporterOptions): Promise<Reporter> {
  if (options.json) return jsonReporter();
  if (options.live) {
    // listr2 through its own dynamic import: the build bundles live-reporter.js into the
    // program, where a static import of it would load listr2 for every command.
    const [{ createLiveReporter }, { Listr }] = await Promise.all([import("./live-reporter.js"), import("listr2")]);
    return createLiveReporter(options, Listr);
  }
  return plainReporter(options);
}

function jsonReporter(): Reporter {
  return {
    onEvent(event) {
      if (event.type === "warning") process.stderr.write(`warning: ${event.message}\n`);
    },
    async close() {},
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** `: container x, secret y; kept volume z (data kept)` */
export function removalDetails(event: { removed: readonly string[]; kept: readonly string[] }): string {
  const parts = [event.removed.join(", "), event.kept.length ? `kept ${event.kept.join(", ")}` : ""].filter(Boolean);
  return parts.length ? `: ${parts.join("; ")}` : "";
}

export function plainReporter(options: Pick<ReporterOptions, "verbose" | "printPlan">, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Reporter {
  return {
    onEvent(event) {
      switch (event.type) {
        case "plan":
          if (options.printPlan !== false) write(formatPlan(event.plan, options));
          break;
        case "step-start":
          write(`> ${event.step}: ${summarizeReasons(event.reasons, 1).join("; ")}`);
          break;
        case "step-done":
          write(`ok ${event.step} (${seconds(event.durationMs)})`);
          break;
        case "step-skip":
          if (event.reasons.some((r) => r.kind === "upstream-reran-unchanged")) write(`- ${event.step}: skipped, ${formatReason(event.reasons[0]!)}`);
          break;
        case "step-failed":
          write(`FAILED ${event.step} (${seconds(event.durationMs)}): ${event.error.message}`);
          break;
        case "step-blocked":
          write(`- ${event.step}: not run, ${event.by} failed`);
          break;
        case "remove-start":
          write(`> remove ${event.step}: ${formatRemovalReason(event.reason)}`);
          break;
        case "remove-done":
          write(`removed ${event.step} (${seconds(event.durationMs)})${removalDetails(event)}`);
          break;
        case "remove-failed":
          write(`FAILED remove ${event.step} (${seconds(event.durationMs)}): ${event.error.message}`);
          break;
        case "log":
          if (event.level === "warn") write(`  ${event.step}: warning: ${event.message}`);
          else if (options.verbose || event.level === "progress") write(`  ${event.step}: ${event.message}`);
          break;
        case "warning":
          process.stderr.write(`warning: ${event.message}\n`);
          break;
      }
    },
    async close() {},
  };
}
