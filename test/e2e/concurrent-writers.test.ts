import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AgeSecretBackend, SiteSession, parseState } from "@stepwise/core/engine";
import { describe, expect, it } from "vitest";
import { collect, makeFixtureSite, runCli, startCli, type CliResult } from "./cli-harness.js";

const NOTES = 3;
const KEYS = 2;

/**
 * The fixture site plus a plugin with one step that owns NOTES optional secrets and KEYS
 * settings, so every writer of a round changes something of its own.
 */
function makeWritersSite(): string {
  const dir = makeFixtureSite(`name: writers-site
plugins:
  - stepwise-plugin-fixture
  - stepwise-plugin-writers
`);
  const plugin = path.join(dir, "node_modules", "stepwise-plugin-writers");
  mkdirSync(plugin, { recursive: true });
  writeFileSync(path.join(plugin, "package.json"), JSON.stringify({
      name: "stepwise-plugin-writers",
      version: "1.0.0",
      type: "module",
      exports: { ".": "./index.js", "./package.json": "./package.json" },
      peerDependencies: { "@stepwise/core": "^0.1.0" },
    }));
  const config = Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`w.k${i}`, { description: `setting ${i}`, default: "none" }]));
  const secrets = Object.fromEntries(Array.from({ length: NOTES }, (_, i) => [`note_${i}`, { description: `note ${i}`, required: false }]));
  writeFileSync(
    path.join(plugin, "index.js"),
    `export default {
  meta: { name: "stepwise-plugin-writers", version: "1.0.0" },
  steps: [{ name: "notes", description: "owns the notes", config: ${JSON.stringify(config)}, secrets: ${JSON.stringify(secrets)}, async run() { return {}; } }],
};
`,
  );
  return dir;
}

interface Writer {
  label: string;
  result: Promise<CliResult>;
  /** Whether the change this writer reported is in the site now. */
  present: () => Promise<boolean>;
}

/** What a refusal must say: that the site is locked, by whom, and that nothing changed. */
function expectLockRefusal(label: string, result: CliResult): void {
  expect(result.stderr, label).toMatch(/State is locked by pid \d+ on host \S+ \(user \S+, (deploy|secrets set|secrets rotate|configure --set|configure) since /);
  expect(result.stderr, label).toContain("Nothing was changed");
}

describe("concurrent writers", () => {
  it("deploy, secrets set, secrets rotate and configure --set at once, several rounds: every writer that exits 0 keeps its change", async () => {
    const dir = makeWritersSite();
    const stateFile = path.join(dir, ".stepwise/state.json");
    const readSecrets = () => new AgeSecretBackend(dir).readAll();
    const readConfig = async () => (await SiteSession.open({ dir, env: {} })).config;
    const serial = () => parseState(readFileSync(stateFile, "utf8"), stateFile).serial;
    const first = await runCli(["deploy"], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);

    const outcomes = { applied: 0, refused: 0, mostAppliedInOneRound: 0 };
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const tokenBefore = (await readSecrets()).get("api_token");
      const serialBefore = serial();
      const writers: Writer[] = [];
      const start = (label: string, args: string[], present: Writer["present"], input?: string) =>
        writers.push({ label: `round ${round}: ${label}`, result: collect(startCli(args, { cwd: dir, input })), present });

      for (let i = 0; i < NOTES; i++) {
        const value = `round-${round}-note-${i}-${Math.random().toString(36).slice(2)}`;
        start(`secrets set note_${i}`, ["secrets", "set", `note_${i}`], async () => (await readSecrets()).get(`note_${i}`) === value, value);
      }
      start("secrets rotate api_token", ["secrets", "rotate", "api_token"], async () => (await readSecrets()).get("api_token") !== tokenBefore);
      for (let i = 0; i < KEYS; i++) {
        const value = `round-${round}-key-${i}`;
        start(`configure --set w.k${i}`, ["configure", "--set", `w.k${i}=${value}`], async () => (await readConfig()).get(`w.k${i}`) === value);
      }

      // The deploy starts among them at a different moment each round: first, amid, or last.
      await new Promise((resolve) => setTimeout(resolve, (round % 3) * 150));
      start("deploy", ["deploy", "--force-all"], async () => {
        const state = parseState(readFileSync(stateFile, "utf8"), stateFile);
        return state.serial > serialBefore && Object.values(state.steps).every((s) => s.status === "succeeded");
      });

      const lost: string[] = [];
      let applied = 0;
      for (const writer of writers) {
        const result = await writer.result;
        if (result.code === 3) {
          expectLockRefusal(writer.label, result);
          outcomes.refused += 1;
          continue;
        }
        expect(result.code, `${writer.label}: ${result.stderr}`).toBe(0);
        applied += 1;
        if (!(await writer.present())) lost.push(writer.label);
      }
      outcomes.applied += applied;
      outcomes.mostAppliedInOneRound = Math.max(outcomes.mostAppliedInOneRound, applied);
      expect(lost, "writers that exited 0 but whose change is gone").toEqual([]);
    }
    // Writers wait for each other's brief locks rather than fail (only those that meet a deploy are
    // refused), so rounds really had several writers succeed side by side.
    expect(outcomes.mostAppliedInOneRound).toBeGreaterThanOrEqual(4);
    expect(outcomes.applied + outcomes.refused).toBe(rounds * (2 + NOTES + KEYS));
    // The site is still whole: state, secrets and stepwise.yaml read and plan.
    const plan = await runCli(["plan", "--json"], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
  }, 90_000);
});

/** Leaves `.stepwise/state.lock` empty, as a process killed between creating and writing it (older versions) did. */
function leaveEmptyLock(dir: string, ageMs: number): string {
  const lockFile = path.join(dir, ".stepwise/state.lock");
  writeFileSync(lockFile, "");
  const when = new Date(Date.now() - ageMs);
  utimesSync(lockFile, when, when);
  return lockFile;
}

describe("writers during a deploy", () => {
  it("are refused at once with exit 3 naming the deploy, and change nothing", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    // What the writers would change (the deploy itself changes only state).
    const files = ["stepwise.yaml", ".stepwise/secrets.age"].map((f) => path.join(dir, f));
    const before = files.map((f) => readFileSync(f));
    const deploy = startCli(["deploy", "--force-all"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "4000", FIXTURE_SLEEP_STEP: "prepare" } });
    const done = collect(deploy);
    const lockFile = path.join(dir, ".stepwise/state.lock");
    for (let i = 0; i < 200 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 25));
    const writers: [string[], string?][] = [[["secrets", "set", "api_token"], "a-value-that-must-not-land"], [["secrets", "rotate", "api_token"]], [["configure", "--set", "app.greeting=lost"]], [["init", "--force"]]];
    for (const [args, input] of writers) {
      const started = Date.now();
      const result = await runCli(args, { cwd: dir, input });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toContain(`State is locked by pid ${deploy.pid} on host`);
      expect(result.stderr).toMatch(/deploy since [^)]+\)\. Nothing was changed\./);
      // A deploy is not brief: nobody waits for it.
      expect(Date.now() - started).toBeLessThan(3000);
    }
    expect(files.map((f) => readFileSync(f))).toEqual(before);
    expect((await done).code).toBe(0);
  }, 60_000);
});

describe("a lock whose creator cannot be identified", () => {
  it("every command reports an empty lock the same way and takes it over once it is stale", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const found = "empty lock file .stepwise/state.lock";
    const tookOver = `warning: Took over a stale state lock: found ${found}; it was created at`;
    const why = "its holder was never written: a process was killed while taking the lock";

    // Just created: it may be being written, so status says so and a deploy waits for it, then takes it over.
    leaveEmptyLock(dir, 0);
    const fresh = await runCli(["status"], { cwd: dir });
    expect(fresh.stdout).toContain(`locked: ${found}, which its creator may be writing right now`);
    const deploy = await runCli(["deploy"], { cwd: dir });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toContain(tookOver);
    expect(deploy.stderr).toContain(why);

    // Stale: status names it and what happens next; each writer takes it over with the same words.
    leaveEmptyLock(dir, 10_000);
    const stale = await runCli(["status", "--json"], { cwd: dir });
    expect(JSON.parse(stale.stdout).lock).toEqual({ unreadable: found, stale: expect.stringContaining(why) });
    const commands: [string[], string?][] = [[["secrets", "set", "api_token"], "a-token-set-by-hand-0123"], [["secrets", "rotate", "api_token"]], [["configure", "--set", "app.greeting=hey"]]];
    for (const [args, input] of commands) {
      leaveEmptyLock(dir, 10_000);
      const result = await runCli(args, { cwd: dir, input });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      expect(result.stderr, args.join(" ")).toContain(tookOver);
      expect(result.stderr, args.join(" ")).toContain(why);
    }
    const lockFile = leaveEmptyLock(dir, 10_000);
    const unlock = await runCli(["state", "unlock"], { cwd: dir });
    expect(unlock.stdout).toContain(`Removed the state lock: ${found}; it was created at`);
    expect(existsSync(lockFile)).toBe(false);
  }, 60_000);

  it("temp files that killed writers left are removed by the next run", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const stepwise = path.join(dir, ".stepwise");
    const leftovers = ["configure.json.2787860295", "secrets.age.12345", "age-identity.txt.99", "state.json.4242"];
    for (const name of leftovers) writeFileSync(path.join(stepwise, name), "half");
    writeFileSync(path.join(dir, "stepwise.yaml.31337"), "half");
    // A cache write of a process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default).
    writeFileSync(path.join(stepwise, "cache", "site.json.4194305.tmp"), "half");
    const set = await runCli(["secrets", "set", "api_token"], { cwd: dir, input: "another-token-value-4567" });
    expect(set.code, set.stderr).toBe(0);
    expect(readdirSync(stepwise).filter((f) => /\.\d+$/.test(f))).toEqual([]);
    expect(readdirSync(path.join(stepwise, "cache")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(existsSync(path.join(dir, "stepwise.yaml.31337"))).toBe(false);
  }, 60_000);
});
