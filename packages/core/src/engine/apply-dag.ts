/** How a step of a run ended: it ran, it was skipped, it failed, or it never started because a dependency failed or was blocked. */
export type StepOutcome = "done" | "skipped" | "failed" | "blocked";

export interface DagRun {
  /** Step names, dependencies first. */
  order: readonly string[];
  /** Each step's dependencies (every one of them is in `order`). */
  dependencies: ReadonlyMap<string, readonly string[]>;
  /** Steps in flight at once (at least 1). */
  concurrency: number;
  /** Once aborted, nothing new starts; steps in flight are left to finish. */
  signal: AbortSignal;
  /** Runs (or skips) one step whose dependencies are all done or skipped. */
  execute(step: string): Promise<Exclude<StepOutcome, "blocked">>;
  /** A step will not start because `by`, one of its dependencies, failed or was blocked. */
  onBlocked(step: string, by: string): void;
}

/**
 * Applies a plan as a DAG: starts every step whose dependencies are done or skipped, in
 * `order`, at most `concurrency` at a time. A failure starts nothing new (steps in flight
 * finish) and marks what depends on it blocked; an abort starts nothing new. Returns every
 * outcome; a step that never started has none. Rejects as soon as an `execute` rejects.
 */
export async function applyDag(run: DagRun): Promise<Map<string, StepOutcome>> {
  const outcomes = new Map<string, StepOutcome>();
  const inFlight = new Map<string, Promise<void>>();
  const pending = new Set(run.order);
  const concurrency = Math.max(1, run.concurrency);
  let stopped = false;
  for (;;) {
    if (!stopped && !run.signal.aborted) {
      for (const name of run.order) {
        if (inFlight.size >= concurrency) break;
        if (!pending.has(name)) continue;
        const deps = run.dependencies.get(name) ?? [];
        const blocker = deps.find((d) => outcomes.get(d) === "failed" || outcomes.get(d) === "blocked");
        if (blocker) {
          pending.delete(name);
          outcomes.set(name, "blocked");
          run.onBlocked(name, blocker);
          continue;
        }
        if (!deps.every((d) => outcomes.get(d) === "done" || outcomes.get(d) === "skipped")) continue;
        pending.delete(name);
        const running = run
          .execute(name)
          .then((outcome) => {
            outcomes.set(name, outcome);
            if (outcome === "failed") stopped = true;
          })
          .finally(() => inFlight.delete(name));
        inFlight.set(name, running);
      }
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight.values());
  }
  return outcomes;
}

/** Steps that did not run to an end: never started, or blocked. */
export function notRun(order: readonly string[], outcomes: ReadonlyMap<string, StepOutcome>): string[] {
  return order.filter((n) => !outcomes.has(n) || outcomes.get(n) === "blocked");
}
