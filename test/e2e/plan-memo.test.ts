// The no-op plan memo (`.stepwise/cache/plan-memo.json`, packages/core/src/cache/plan-memo.ts):
// a plan with nothing to do is printed again by the next one without loading the CLI, while
// git's listing and every file, module and environment variable the plan read are as they were.
// Each test changes one thing the memo must notice and checks that the plan after it is made
// afresh and says so; a memo that is damaged or answers another invocation costs a full plan.
import { appendFileSync, lutimesSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, commitAll, git, initRepo } from "../fixtures/git-repo.js";
import { makeFixtureSite, runCli } from "./cli-harness.js";

const memoFile = (dir: string) => path.join(dir, ".stepwise", "cache", "plan-memo.json");

/** A local plugin whose factory reads `MEMO_EXTRA_STEP` (as a plugin may) and whose steps hash files. */
function writePlugin(dir: string, name: string, steps: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "*" } }));
  writeFileSync(
    path.join(dir, "index.js"),
    `export default () => ({ meta: { name: ${JSON.stringify(name)}, version: "1.0.0" }, steps: [
  ${steps}
  ...(process.env.MEMO_EXTRA_STEP ? [{ name: "extra", run: async () => ({}) }] : []),
] });\n`,
  );
}

/** Links the plugin package `version` (a directory under vendor/) as node_modules/memo-plugin, the link older than the racy window. */
function link(dir: string, version: string): void {
  const at = path.join(dir, "node_modules", "memo-plugin");
  rmSync(at, { force: true });
  symlinkSync(path.join(dir, "vendor", version), at, "dir");
  const past = new Date(Date.now() - 3600_000);
  lutimesSync(at, past, past);
  utimesSync(path.join(dir, "node_modules"), past, past);
}

const STEPS = `{ name: "code", inputs: { files: ["src/**"] }, run: async () => ({ n: 1 }) },
  { name: "docs", required: false, inputs: { files: ["docs/**"] }, run: async () => ({ n: 2 }) },`;

/** A git site with a local plugin linked into node_modules, deployed, everything older than the racy window. */
async function deployedSite(): Promise<string> {
  const dir = makeFixtureSite("name: memo\nplugins:\n  - memo-plugin\n");
  writePlugin(path.join(dir, "vendor", "memo-plugin-a"), "memo-plugin", STEPS);
  link(dir, "memo-plugin-a");
  mkdirSync(path.join(dir, ".stepwise"));
  initRepo(dir);
  writeFileSync(path.join(dir, ".gitignore"), ".stepwise/\nnode_modules/\nvendor/\n");
  backdate(dir);
  commitAll(dir);
  const deployed = await runCli(["deploy"], { cwd: dir });
  expect(deployed.code, deployed.stderr).toBe(0);
  ageState(dir);
  return dir;
}

/** What a deploy just wrote is older than the racy window once backdated (the memo keeps only such stats). */
function ageState(dir: string): void {
  const past = new Date(Date.now() - 3600_000);
  for (const file of [path.join(dir, ".stepwise", "state.json"), path.join(dir, ".stepwise")]) utimesSync(file, past, past);
}

async function plan(dir: string, args: string[] = [], env: Record<string, string> = {}) {
  const result = await runCli(["plan", ...args], { cwd: dir, env: { STEPWISE_TRACE: "1", ...env } });
  expect(result.code, result.stderr).toBe(0);
  const stderr = result.stderr;
  return {
    stdout: result.stdout,
    replayed: stderr.includes("plan memo replayed"),
    kept: stderr.includes("plan memo kept"),
    notKept: /plan memo not kept: (.*)/.exec(stderr)?.[1],
    loadedCli: stderr.includes("cli loaded"),
  };
}

/** Plans so that the memo is kept (or finds it kept already), then checks that the next plan replays it. */
async function settled(dir: string, args: string[] = [], env: Record<string, string> = {}) {
  const first = await plan(dir, args, env);
  expect(first.kept || first.replayed, first.notKept).toBe(true);
  const again = await plan(dir, args, env);
  expect(again.replayed).toBe(true);
  expect(again.loadedCli).toBe(false);
  expect(again.stdout).toBe(first.stdout);
  return first.stdout;
}

describe("the no-op plan memo", () => {
  it("replays a no-op plan without loading the CLI, and plans afresh after a change to a file input", async () => {
    const dir = await deployedSite();
    expect(await settled(dir)).toContain("0 to run, 2 unchanged");

    // A tracked file edited: git's listing differs, the plan runs in full and says what changed.
    appendFileSync(path.join(dir, "src", "util.js"), "export const y = 2;\n");
    const edited = await plan(dir);
    expect(edited.replayed).toBe(false);
    expect(edited.stdout).toMatch(/run +code +file src\/util\.js modified/);
    git(dir, "checkout", "--", "src/util.js");
    await new Promise((resolve) => setTimeout(resolve, 2100)); // until the restored file is older than the racy window

    // An untracked file a glob selects: the untracked listing differs.
    expect(await settled(dir)).toContain("0 to run, 2 unchanged");
    writeFileSync(path.join(dir, "docs", "new.md"), "# new\n");
    const added = await plan(dir);
    expect(added.replayed).toBe(false);
    expect(added.stdout).toMatch(/run +docs +file docs\/new\.md added/);

    // The same change staged: the index differs too.
    git(dir, "add", "docs/new.md");
    expect((await plan(dir)).stdout).toMatch(/run +docs +file docs\/new\.md added/);
  });

  it("plans afresh when the site file, the plugin's code, its link or an environment variable it reads changes", async () => {
    const dir = await deployedSite();
    await settled(dir);

    // The plugin's factory reads MEMO_EXTRA_STEP: the memo answers only the value it was made with.
    // A variable nobody reads does not matter (a shell's own, a benchmark tool's).
    expect((await plan(dir, [], { SOMETHING_ELSE: String(Date.now()) })).replayed).toBe(true);
    const withExtra = await plan(dir, [], { MEMO_EXTRA_STEP: "1" });
    expect(withExtra.replayed).toBe(false);
    expect(withExtra.stdout).toMatch(/run +extra +never run/);
    await settled(dir);

    // The plugin's code: one more step.
    const entry = path.join(dir, "vendor", "memo-plugin-a", "index.js");
    writeFileSync(entry, readFileSync(entry, "utf8").replace("  ...(process.env", '  { name: "later", run: async () => ({}) },\n  ...(process.env'));
    const edited = await plan(dir);
    expect(edited.replayed).toBe(false);
    expect(edited.stdout).toMatch(/run +later +never run/);
    writePlugin(path.join(dir, "vendor", "memo-plugin-a"), "memo-plugin", STEPS);
    backdate(path.join(dir, "vendor"));
    await settled(dir);

    // The same package name and version linked to other code (a reinstall): the link is a witness.
    writePlugin(path.join(dir, "vendor", "memo-plugin-b"), "memo-plugin", `${STEPS}\n  { name: "relinked", run: async () => ({}) },`);
    backdate(path.join(dir, "vendor"));
    link(dir, "memo-plugin-b");
    const relinked = await plan(dir);
    expect(relinked.replayed).toBe(false);
    expect(relinked.stdout).toMatch(/run +relinked +never run/);

    // stepwise.yaml: the step is turned off.
    link(dir, "memo-plugin-a");
    await settled(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: memo\nplugins:\n  - memo-plugin\nsteps:\n  docs:\n    enabled: false\n");
    const disabled = await plan(dir);
    expect(disabled.replayed).toBe(false);
    expect(disabled.stdout).toMatch(/docs/);
    expect(disabled.stdout).not.toContain("0 to run, 2 unchanged");
  });

  it("plans afresh when the state changes, and answers each invocation with its own memo", async () => {
    const dir = await deployedSite();
    await settled(dir);

    // Another output format is another invocation.
    const json = await plan(dir, ["--json"]);
    expect(json.replayed).toBe(false);
    expect(JSON.parse(json.stdout)).toMatchObject({ toRun: 0 });
    await settled(dir, ["--json"]);
    expect((await plan(dir)).replayed).toBe(false); // the memo now answers --json

    // The state is gone (as after `rm -r .stepwise/state.json`): every step runs.
    await settled(dir);
    renameSync(path.join(dir, ".stepwise", "state.json"), path.join(dir, "state.saved"));
    const stateless = await plan(dir);
    expect(stateless.replayed).toBe(false);
    expect(stateless.stdout).toMatch(/2 to run/);
    renameSync(path.join(dir, "state.saved"), path.join(dir, ".stepwise", "state.json"));

    // A journal a running deploy appends is read by a plan: its appearance is seen.
    await settled(dir);
    writeFileSync(path.join(dir, ".stepwise", "journal.jsonl"), "");
    expect((await plan(dir)).replayed).toBe(false);
  });

  it("a damaged memo costs a full plan, never an error or a wrong answer", async () => {
    const dir = await deployedSite();
    const good = await settled(dir);
    const bytes = readFileSync(memoFile(dir));
    for (const damaged of [bytes.subarray(0, bytes.length >> 1), Buffer.from(bytes.toString("latin1").replace("0 to run", "9 to run"), "latin1"), Buffer.from("not a cache\n")]) {
      writeFileSync(memoFile(dir), damaged);
      const result = await plan(dir);
      expect(result.replayed).toBe(false);
      expect(result.stdout).toBe(good);
    }
    rmSync(memoFile(dir));
    mkdirSync(memoFile(dir)); // something else in its place
    const result = await plan(dir);
    expect(result.stdout).toBe(good);
    expect(result.replayed).toBe(false);
  });

  it("is not kept for a plan that runs a drift check or reads a state just written", async () => {
    const dir = await deployedSite();
    // A state younger than the racy window: a later write in the same clock tick could keep its stat.
    const past = new Date();
    utimesSync(path.join(dir, ".stepwise", "state.json"), past, past);
    const racy = await plan(dir);
    expect(racy.notKept).toMatch(/state\.json changed too recently/);

    // A step with a drift check looks at the world on a refreshing plan: not replayable, but
    // with --no-refresh it is.
    const entry = path.join(dir, "vendor", "memo-plugin-a", "index.js");
    writeFileSync(entry, readFileSync(entry, "utf8").replace('{ name: "code",', '{ name: "code", check: async () => {},'));
    backdate(path.join(dir, "vendor"));
    ageState(dir);
    const checking = await plan(dir);
    expect(checking.notKept).toBe("it runs the drift check of code");
    expect((await plan(dir)).replayed).toBe(false);
    await settled(dir, ["--no-refresh"]);
  });
});
