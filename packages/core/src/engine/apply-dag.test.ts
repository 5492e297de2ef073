import { describe, expect, it } from "vitest";
import { applyDag, notRun, type StepOutcome } from "./apply-dag.js";

/** A DAG run whose steps end when the test says, recording what started and how many ran at once. */
function harness(graph: Record<string, string[]>, concurrency = 4) {
  const order = Object.keys(graph);
  const started: string[] = [];
  const blocked: [string, string][] = [];
  const finish = new Map<string, (outcome: Exclude<StepOutcome, "blocked">) => void>();
  let running = 0;
  let mostAtOnce = 0;
  const abort = new AbortController();
  const run = applyDag({
    order,
    dependencies: new Map(Object.entries(graph)),
    concurrency,
    signal: abort.signal,
    execute: (step) =>
      new Promise((resolve) => {
        started.push(step);
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        finish.set(step, (outcome) => {
          running -= 1;
          resolve(outcome);
        });
      }),
    onBlocked: (step, by) => blocked.push([step, by]),
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    order,
    run,
    started,
    blocked,
    abort,
    mostAtOnce: () => mostAtOnce,
    /** Ends a started step and lets the scheduler start what that frees. */
    async end(step: string, outcome: Exclude<StepOutcome, "blocked"> = "done") {
      finish.get(step)!(outcome);
      await settle();
    },
    settle,
  };
}

describe("applyDag", () => {
  it("starts a step only once each dependency is done or skipped, in order", async () => {
    const dag = harness({ a: [], b: ["a"], c: ["a"], d: ["b", "c"] });
    await dag.settle();
    expect(dag.started).toEqual(["a"]);
    await dag.end("a", "skipped");
    expect(dag.started).toEqual(["a", "b", "c"]);
    await dag.end("c");
    expect(dag.started).toEqual(["a", "b", "c"]);
    await dag.end("b");
    expect(dag.started).toEqual(["a", "b", "c", "d"]);
    await dag.end("d");
    expect(Object.fromEntries(await dag.run)).toEqual({ a: "skipped", b: "done", c: "done", d: "done" });
  });

  it("never has more than `concurrency` steps in flight", async () => {
    const dag = harness({ a: [], b: [], c: [], d: [], e: [] }, 2);
    await dag.settle();
    expect(dag.started).toEqual(["a", "b"]);
    for (const step of ["a", "b", "c", "d", "e"]) await dag.end(step);
    await dag.run;
    expect(dag.started).toEqual(["a", "b", "c", "d", "e"]);
    expect(dag.mostAtOnce()).toBe(2);
  });

  it("after a failure starts nothing new, lets steps in flight finish, and leaves the rest not run", async () => {
    const dag = harness({ a: [], b: [], c: ["a"], d: [] }, 2);
    await dag.settle();
    expect(dag.started).toEqual(["a", "b"]);
    await dag.end("a", "failed");
    expect(dag.started).toEqual(["a", "b"]);
    await dag.end("b");
    const outcomes = await dag.run;
    expect(Object.fromEntries(outcomes)).toEqual({ a: "failed", b: "done" });
    expect(notRun(dag.order, outcomes)).toEqual(["c", "d"]);
  });

  it("after an abort starts nothing new and waits for the steps in flight", async () => {
    const dag = harness({ a: [], b: ["a"], c: [] }, 2);
    await dag.settle();
    dag.abort.abort();
    await dag.end("a");
    expect(dag.started).toEqual(["a", "c"]);
    await dag.end("c");
    const outcomes = await dag.run;
    expect(notRun(dag.order, outcomes)).toEqual(["b"]);
  });

  it("rejects as soon as a step's execution rejects (a lost state write)", async () => {
    const conflict = new Error("STATE_CONFLICT");
    const run = applyDag({
      order: ["a", "b"],
      dependencies: new Map([["a", []], ["b", ["a"]]]),
      concurrency: 1,
      signal: new AbortController().signal,
      execute: async (step) => {
        if (step === "a") throw conflict;
        return "done";
      },
      onBlocked: () => {},
    });
    await expect(run).rejects.toBe(conflict);
  });
});
