// The no-op plan memo (`.stepwise/cache/plan-memo.json`, packages/core/src/cache/plan-memo.ts):
// a plan with nothing to do is printed again by the next one without loading the CLI, while
// git's listing, the environment and every file and module the plan read are as they were.
// Each test changes one thing the memo must notice and checks that the plan after it is made
// afresh and says so; a memo that is damaged or answers another invocation costs a full plan.
import { execFileSync } from "node:child_process";
import { appendFileSync, linkSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, commitAll, git, initRepo } from "../fixtures/git-repo.js";
import { TEMPLATE_VERSION_FILE } from "@stepwise/core/engine";
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

    // The plugin's factory reads MEMO_EXTRA_STEP: the memo answers only the environment it was made in.
    // A shell's bookkeeping (OLDPWD after a cd) does not count; any other variable does.
    expect((await plan(dir, [], { OLDPWD: String(Date.now()) })).replayed).toBe(true);
    expect((await plan(dir, [], { SOMETHING_ELSE: String(Date.now()) })).replayed).toBe(false);
    await settled(dir);
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
    // Each invocation has its slot: by turns, both replay.
    for (let round = 0; round < 2; round++) {
      expect((await plan(dir)).replayed).toBe(true);
      expect((await plan(dir, ["--json"])).replayed).toBe(true);
    }
    // Up to four: a fifth invocation takes the slot of the one kept longest ago.
    for (const extra of ["--concurrency=2", "--concurrency=3", "--concurrency=5"]) await settled(dir, [extra]);
    expect((await plan(dir, ["--json"])).replayed).toBe(true);
    expect((await plan(dir)).replayed).toBe(false);

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

  it("sees a link further down a chain pointed elsewhere, even at hard-linked copies of the same files", async () => {
    const dir = await deployedSite();
    // node_modules/memo-plugin -> vendor/current -> memo-plugin-a, as release directories are switched.
    symlinkSync("memo-plugin-a", path.join(dir, "vendor", "current"), "dir");
    rmSync(path.join(dir, "node_modules", "memo-plugin"));
    symlinkSync(path.join(dir, "vendor", "current"), path.join(dir, "node_modules", "memo-plugin"), "dir");
    mkdirSync(path.join(dir, "vendor", "memo-plugin-c"));
    for (const file of ["package.json", "index.js"]) linkSync(path.join(dir, "vendor", "memo-plugin-a", file), path.join(dir, "vendor", "memo-plugin-c", file));
    const past = new Date(Date.now() - 3600_000);
    for (const entry of ["vendor/current", "node_modules/memo-plugin"]) lutimesSync(path.join(dir, entry), past, past);
    for (const entry of ["vendor", "vendor/memo-plugin-c", "node_modules"]) utimesSync(path.join(dir, entry), past, past);
    await settled(dir);
    // The same files (hard links), so every file's stat is the same: only the directory differs.
    rmSync(path.join(dir, "vendor", "current"));
    symlinkSync("memo-plugin-c", path.join(dir, "vendor", "current"), "dir");
    expect((await plan(dir)).replayed).toBe(false);
  });

  it("is not kept when the plan prints more than its text, changes the environment, or Node's own variables differ", async () => {
    const dir = await deployedSite();
    await settled(dir);
    const entry = path.join(dir, "vendor", "memo-plugin-a", "index.js");
    const original = readFileSync(entry, "utf8");
    // A plugin that prints: the replay would not.
    writeFileSync(entry, `console.error("plugin says hello");\n${original}`);
    backdate(path.join(dir, "vendor"));
    const printing = await plan(dir);
    expect(printing.notKept).toBe("it printed on stderr");
    writeFileSync(entry, `console.log("plugin says hello");\n${original}`);
    backdate(path.join(dir, "vendor"));
    expect((await plan(dir)).notKept).toBe("it printed more than the plan on stdout");
    // Output that bypasses process.stdout, and a child process (its output, what it reads).
    writeFileSync(entry, `import { writeSync } from "node:fs";\nwriteSync(2, "direct\\n");\n${original}`);
    backdate(path.join(dir, "vendor"));
    expect((await plan(dir)).notKept).toBe("it wrote to stdout or stderr directly");
    writeFileSync(entry, `import { execFileSync } from "node:child_process";\nexecFileSync("true");\n${original}`);
    backdate(path.join(dir, "vendor"));
    expect((await plan(dir)).notKept).toBe("it started a child process");
    // An exit code a replay would not give.
    writeFileSync(entry, `process.exitCode = 3;\n${original}`);
    backdate(path.join(dir, "vendor"));
    const exits = await runCli(["plan"], { cwd: dir, env: { STEPWISE_TRACE: "1" } });
    expect(exits.code).toBe(3);
    expect(exits.stderr).toContain("plan memo not kept: it exits with 3");
    // Recording changes nothing a plugin can see: fs functions keep their properties.
    writeFileSync(entry, `import fs from "node:fs";\nimport { promisify } from "node:util";\nif (typeof fs.realpathSync.native !== "function" || typeof fs.realpath.native !== "function") throw new Error("fs.realpath.native is gone");\nif (!Object.getOwnPropertySymbols(fs.write).length) throw new Error("fs.write lost its promisify arguments");\nif (fs.readFile.length !== 3 || process.stdout.write.length !== 3) throw new Error("a function's length changed");\nvoid promisify;\n${original}`);
    backdate(path.join(dir, "vendor"));
    const untouched = await plan(dir);
    expect(untouched.kept, untouched.notKept).toBe(true);
    // What a replay would not do: an exit listener, a worker thread, fd 1 written past the stream, stdin.
    const cases: [string, string][] = [
      ['process.on("exit", () => {});', "it left an exit listener, which may print or set the exit code after the plan"],
      ['import { Worker } from "node:worker_threads";\nnew Worker("0", { eval: true });', "it started a worker thread"],
      ['import { writeFileSync } from "node:fs";\nwriteFileSync(1, "");', "it wrote to stdout or stderr directly"],
      ["void process.stdin;", "it used stdin"],
      // (a device as /dev/stderr would be; here stderr is a socket, which cannot be opened by path)
      ['import { writeFileSync } from "node:fs";\nwriteFileSync("/dev/null", "");', "it wrote to /dev/null, which is no regular file"],
      ["const exit = process.exit;\nprocess.exit = (code) => exit(code);", "it replaced process.exit, reallyExit, emit or kill, which may print or set the exit code after the plan"],
    ];
    for (const [code, reason] of cases) {
      writeFileSync(entry, `${code}\n${original}`);
      backdate(path.join(dir, "vendor"));
      expect((await plan(dir)).notKept, code).toBe(reason);
    }
    // A plugin that changes the environment as it loads (as dotenv or process.loadEnvFile do): what
    // it set came from somewhere no witness covers.
    writeFileSync(entry, `process.env.MEMO_MODE ??= "prod";\n${original}`);
    backdate(path.join(dir, "vendor"));
    expect((await plan(dir)).notKept).toBe("the environment changed during the plan");
    writeFileSync(entry, original);
    backdate(path.join(dir, "vendor"));
    await settled(dir);
    // Node reads NODE_* itself (NODE_PRESERVE_SYMLINKS changes how every module is found).
    expect((await plan(dir, [], { NODE_PRESERVE_SYMLINKS: "1" })).replayed).toBe(false);
  });

  it("witnesses files a plugin reads as it loads, and an optional dependency it did not find", async () => {
    const dir = await deployedSite();
    const entry = path.join(dir, "vendor", "memo-plugin-a", "index.js");
    const original = readFileSync(entry, "utf8");
    writeFileSync(path.join(dir, "vendor", "memo-plugin-a", "steps.json"), JSON.stringify(["listed"]));
    const reading = `import { readFileSync } from "node:fs";
const listed = JSON.parse(readFileSync(new URL("./steps.json", import.meta.url), "utf8")).map((name) => ({ name, run: async () => ({}) }));
let optional = [];
try { optional = (await import("memo-optional")).default; } catch {}
${original.replace("  ...(process.env", "  ...listed,\n  ...optional,\n  ...(process.env")}`;
    writeFileSync(entry, reading);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    backdate(path.join(dir, "vendor"));
    ageState(dir);
    await settled(dir);
    // The plugin's own JSON, read with fs as it loads.
    writeFileSync(path.join(dir, "vendor", "memo-plugin-a", "steps.json"), JSON.stringify(["listed", "another"]));
    const listed = await plan(dir);
    expect(listed.replayed).toBe(false);
    expect(listed.stdout).toMatch(/run +another +never run/);
    writeFileSync(path.join(dir, "vendor", "memo-plugin-a", "steps.json"), JSON.stringify(["listed"]));
    backdate(path.join(dir, "vendor"));
    await settled(dir);
    // An optional dependency installed since: where Node looked for it is a witness.
    mkdirSync(path.join(dir, "node_modules", "memo-optional"));
    writeFileSync(path.join(dir, "node_modules", "memo-optional", "package.json"), JSON.stringify({ name: "memo-optional", version: "1.0.0", type: "module", main: "index.js" }));
    writeFileSync(path.join(dir, "node_modules", "memo-optional", "index.js"), 'export default [{ name: "optional", run: async () => ({}) }];\n');
    const optional = await plan(dir);
    expect(optional.replayed).toBe(false);
    expect(optional.stdout).toMatch(/run +optional +never run/);
  });

  it("falls back to a full plan on a directory replaced by a file, a FIFO in the memo's place, and a template folder outside git", async () => {
    const dir = await deployedSite();
    await settled(dir);
    // src/deep/x.js tracked, then src/deep replaced by a file: the kept untracked listing's directory is no directory.
    mkdirSync(path.join(dir, "src", "deep"));
    writeFileSync(path.join(dir, "src", "deep", "x.js"), "1\n");
    commitAll(dir);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await settled(dir);
    rmSync(path.join(dir, "src", "deep"), { recursive: true });
    writeFileSync(path.join(dir, "src", "deep"), "now a file\n");
    const replaced = await plan(dir);
    expect(replaced.replayed).toBe(false);
    expect(replaced.stdout).toMatch(/run +code/);

    const fifo = await deployedSite();
    rmSync(memoFile(fifo), { force: true });
    mkdirSync(path.dirname(memoFile(fifo)), { recursive: true });
    execFileSync("mkfifo", [memoFile(fifo)]);
    const answered = await plan(fifo);
    expect(answered.stdout).toContain("0 to run");
  });

  it("keeps no memo for templates linked from outside the work tree, and witnesses those inside it", async () => {
    const dir = await deployedSite();
    const shared = mkdtempSync(path.join(os.tmpdir(), "stepwise-shared-templates-"));
    writeFileSync(path.join(shared, TEMPLATE_VERSION_FILE), "0.1.0\n");
    writeFileSync(path.join(shared, "app.conf"), "greeting=${config.app.greeting}\n");
    symlinkSync(shared, path.join(dir, "templates"), "dir");
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: memo\nplugins:\n  - memo-plugin\nconfig:\n  app:\n    greeting: hi\n    other: x\ntemplates:\n  source: templates\n  output: rendered\n");
    const deployed = await runCli(["deploy"], { cwd: dir });
    expect(deployed.code, deployed.stderr).toBe(0);
    backdate(shared);
    backdate(dir);
    ageState(dir);
    // git sees the link, not the templates: a plan does not vouch for its file inputs and keeps no memo.
    const linked = await plan(dir, ["--no-refresh"]);
    expect(linked.stdout).toContain("0 to run");
    expect(linked.notKept).toMatch(/file inputs are not vouched for/);
    writeFileSync(path.join(shared, "app.conf"), "greeting=${config.app.greeting} ${config.app.other}\n");
    expect((await plan(dir, ["--no-refresh"])).stdout).toMatch(/run +templates/);

    // In the work tree, the templates it read are witnesses along with git's listing.
    rmSync(path.join(dir, "templates"));
    mkdirSync(path.join(dir, "templates"));
    for (const file of [TEMPLATE_VERSION_FILE, "app.conf"]) writeFileSync(path.join(dir, "templates", file), readFileSync(path.join(shared, file)));
    commitAll(dir);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the new templates' stats are trusted once older than the racy window
    await settled(dir, ["--no-refresh"]);
    writeFileSync(path.join(dir, "templates", TEMPLATE_VERSION_FILE), "9.0.0\n");
    const tooNew = await runCli(["plan", "--no-refresh"], { cwd: dir });
    expect(tooNew.code).toBe(2);
    expect(tooNew.stderr).toMatch(/9\.0\.0/);
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
