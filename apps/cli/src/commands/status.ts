import { describeFoundLock, readState } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

export async function statusCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  try {
    const [{ state }, lock] = await Promise.all([readState(session.stateBackend), session.stateBackend.inspectLock()]);
    const steps = [...session.steps.keys()].map((name) => {
      const record = state?.steps[name];
      return {
        name,
        status: record?.status ?? "never-run",
        finishedAt: record?.finishedAt ?? null,
        durationMs: record?.durationMs ?? null,
        error: record?.error?.message ?? null,
      };
    });
    let services: import("@stepwise/core").ServiceStatus[] | undefined;
    let targetError: string | undefined;
    if (session.target) {
      try {
        const target = await session.connectTarget();
        services = await target.status?.();
      } catch (error) {
        targetError = (error as Error).message;
      }
    }
    if (globals.json) {
      printJson(session, { site: session.site.name, state: session.stateBackend.description, serial: state?.serial ?? 0, lock: lock ?? null, steps, services: services ?? null, targetError: targetError ?? null });
      return;
    }
    const out: string[] = [`site ${session.site.name}  (state: ${session.stateBackend.description}, serial ${state?.serial ?? 0})`];
    if (lock && "unreadable" in lock) {
      // The same finding a deploy reports: an unreadable lock is taken over once it is stale, waited for before.
      out.push(`locked: ${describeFoundLock(lock)}${lock.stale ? " — the next deploy takes it over (or: stepwise state unlock)" : ""}`);
    } else if (lock) {
      out.push(`locked by pid ${lock.pid} on ${lock.host} (${lock.operation} since ${lock.startedAt})${lock.stale ? ` — stale: ${lock.stale}; run stepwise state unlock` : ""}`);
    }
    const width = Math.max(...steps.map((s) => s.name.length), 4);
    for (const step of steps) {
      const when = step.finishedAt ? `  ${step.finishedAt}` : "";
      out.push(`  ${step.status.padEnd(10)} ${step.name.padEnd(width)}${when}${step.error ? `  ${step.error.split("\n")[0]}` : ""}`);
    }
    if (services) {
      out.push("", "services:");
      const w = Math.max(...services.map((s) => s.name.length), 4);
      for (const s of services) {
        const up = s.startedAt && s.state === "running" ? `  up ${formatUptime(Date.now() - Date.parse(s.startedAt))}` : "";
        out.push(`  ${s.name.padEnd(w)}  ${s.state}${s.health ? ` (${s.health})` : ""}  ${s.image ?? ""}${up}${s.startedAt ? `  since ${s.startedAt}` : ""}${s.ports?.length ? `  ${s.ports.join(", ")}` : ""}`);
      }
    } else if (targetError) {
      out.push("", `target: ${targetError}`);
    }
    process.stdout.write(`${session.redactor.redact(out.join("\n"))}\n`);
  } finally {
    await session.close();
  }
}

/** `3d 4h`, `2h 5m`, `4m 10s`, `12s`. */
export function formatUptime(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}
