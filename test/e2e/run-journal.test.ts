import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FileStateBackend, readState } from "@stepwise/core/engine";
import { describe, expect, it } from "vitest";
import { collect, makeFixtureSite, runCli, startCli } from "./cli-harness.js";

const runsOf = (dir: string) => {
  const file = path.join(dir, "runs.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" ")[0]) : [];
};
const serialOf = (dir: string) => (JSON.parse(readFileSync(path.join(dir, ".stepwise", "state.json"), "utf8")) as { serial: number }).serial;
const journal = (dir: string) => path.join(dir, ".stepwise", "journal.jsonl");

describe("one journal per run", () => {
  it("deploy --force-all writes state.json once, at the end, and leaves no journal", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const before = serialOf(dir);
    expect((await runCli(["deploy", "--force-all"], { cwd: dir })).stdout).toContain("Deployed: 4 ran");
    expect(serialOf(dir)).toBe(before + 1);
    expect(existsSync(journal(dir))).toBe(false);
  });

  it("kill -9 mid-run: readers see the journalled results, a result is never recorded for unfinished work, and the next run folds the journal and converges", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    let sawJournal = false;
    for (let round = 0; round < 8; round++) {
      writeFileSync(path.join(dir, "runs.log"), "");
      const roundStart = Date.now();
      const child = startCli(["deploy", "--concurrency", "2", "--force-all"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "120" } });
      const done = collect(child);
      if (round === 0) {
        // One kill is sure to land mid-run whatever the machine's speed: once the first step has
        // finished its work (the fixture logs at its end) while the others still sleep. The other
        // rounds kill at random times, before, during or after the run.
        const deadline = Date.now() + 20_000;
        while (runsOf(dir).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      } else {
        await new Promise((resolve) => setTimeout(resolve, 250 + Math.floor(Math.random() * 500)));
      }
      child.kill("SIGKILL");
      await done;
      const { state, journal: found } = await readState(new FileStateBackend(dir));
      sawJournal ||= found.applied > 0;
      const finished = runsOf(dir);
      for (const [name, record] of Object.entries(state!.steps)) {
        // A result of this round is recorded only for a step that finished its work (the fixture logs at the end of run).
        if (record.status === "succeeded" && Date.parse(record.startedAt) >= roundStart) expect(finished, `round ${round}: ${name}`).toContain(name);
      }
    }
    expect(sawJournal).toBe(true);
    const converge = await runCli(["deploy"], { cwd: dir });
    expect(converge.code).toBe(0);
    expect(existsSync(journal(dir))).toBe(false);
    expect(JSON.parse((await runCli(["plan", "--json", "--no-refresh"], { cwd: dir })).stdout)).toMatchObject({ toRun: 0 });
  }, 60_000);
});
