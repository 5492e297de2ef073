/**
 * Issue 16: every command that destroys or replaces data asks first, in a real pseudo-terminal
 * (tmux), and refuses without one unless --auto-approve; down --volumes writes a final backup
 * and backup restore a copy of what it replaces. On the recorder target fixture, whose volumes
 * are entries of a world file (a test writes "rows" into them). Real Podman and Postgres:
 * test/demo/confirm-and-safety-net.test.ts.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { cliBin, runCli } from "./cli-harness.js";
import { assertBuilt, makeComponentSite } from "../fixtures/component-site.js";
import { TmuxPane, ensureTmux, startCliInPane, terminalEnv } from "../fixtures/tmux-pane.js";

const SITE = `name: keep
preset: dev-mode
target: recorder
plugins:
  - stepwise-target-recorder
  - "@stepwise/step-database"
`;
const VOLUME = "recorder-volume-postgres-data";

let dir: string;
let archive: string;
let tmuxProblem: string | undefined;
let pane: TmuxPane | undefined;

const world = () => JSON.parse(readFileSync(path.join(dir, "recorder-world.json"), "utf8")) as Record<string, { volume?: boolean; rows?: string[] }>;
const writeRows = (rows: string[]) => {
  const w = world();
  w[VOLUME] = { volume: true, rows };
  writeFileSync(path.join(dir, "recorder-world.json"), JSON.stringify(w, null, 2));
};
const backups = () => (existsSync(path.join(dir, ".stepwise/backups")) ? readdirSync(path.join(dir, ".stepwise/backups")).sort() : []);
/** Everything a destructive command could change: the world (volumes and their rows), state, secrets, backups. */
const everything = () => ({
  world: world(),
  state: readFileSync(path.join(dir, ".stepwise/state.json"), "utf8"),
  secrets: readFileSync(path.join(dir, ".stepwise/secrets.age"), "utf8"),
  backups: backups(),
});

beforeAll(async () => {
  assertBuilt();
  tmuxProblem = ensureTmux();
  if (!tmuxProblem) pane = new TmuxPane(terminalEnv());
  dir = makeComponentSite({ yaml: SITE });
  expect((await runCli(["deploy", "--auto-approve"], { cwd: dir })).code).toBe(0);
  writeRows(["written before the backup"]);
  const created = await runCli(["backup", "create", "--json"], { cwd: dir });
  expect(created.code, created.stderr).toBe(0);
  archive = (JSON.parse(created.stdout) as { file: string }).file;
});
afterAll(() => {
  pane?.kill();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => writeRows(["written before the backup", "written after the backup"]));

describe("without a terminal and without --auto-approve", () => {
  it("down --volumes, backup restore and backup prune exit 2 with the command to run, and change nothing", async () => {
    const before = everything();
    const cases: [string[], string][] = [
      [["down", "--volumes"], `stepwise down --volumes deletes the data of site keep, and nobody approved it (no terminal to ask); nothing was changed:\n  - volume ${VOLUME} (`],
      [["backup", "restore", archive], "stepwise backup restore replaces the data of site keep with"],
      [["backup", "prune"], "stepwise backup prune deletes"],
    ];
    // A safety backup to prune, so that prune has something to ask about.
    writeFileSync(path.join(dir, ".stepwise/backups/keep-2000-01-01T00-00-00-000Z-before-down.tar.gz"), "old");
    before.backups = backups();
    for (const [args, message] of cases) {
      const result = await runCli(args, { cwd: dir });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain(`fix: stepwise ${args.join(" ")} --auto-approve`);
      expect(everything(), args.join(" ")).toEqual(before);
    }
    rmSync(path.join(dir, ".stepwise/backups/keep-2000-01-01T00-00-00-000Z-before-down.tar.gz"));
    // --json never prompts either: a script gets the refusal as JSON on stderr's exit code.
    expect((await runCli(["down", "--volumes", "--json"], { cwd: dir })).code).toBe(2);
    // A plain down loses no data: it asks nothing, even without a terminal, and keeps the volume.
    const down = await runCli(["down"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(world()[VOLUME]?.rows).toEqual(["written before the backup", "written after the backup"]);
    expect(backups()).toEqual([path.basename(archive)]);
    expect((await runCli(["deploy", "--auto-approve"], { cwd: dir })).code).toBe(0);
  });
});

describe("in a terminal", () => {
  it("down --volumes names the volume with its size and asks for the site name: a wrong name or Ctrl-C changes nothing", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const before = everything();
    const wrong = startCliInPane(pane!, dir, cliBin, ["down", "--volumes"]);
    let screen = await pane!.waitFor(wrong.session, /Type the site name \(keep\) to go ahead/);
    expect(screen).toContain("stepwise down --volumes deletes the data of site keep:");
    expect(screen).toMatch(new RegExp(`- volume ${VOLUME} \\(\\d+ B\\): its data is deleted`));
    expect(screen).toContain("A final backup (volumes, encrypted secrets, state) is written to .stepwise/backups/ first");
    pane!.type(wrong.session, "kep");
    pane!.keys(wrong.session, "Enter");
    screen = await pane!.waitFor(wrong.session, /That is not keep\. Nothing was changed\./);
    expect(await wrong.exitCode()).toBe(0);
    expect(everything()).toEqual(before);

    const cancelled = startCliInPane(pane!, dir, cliBin, ["down", "--volumes"]);
    await pane!.waitFor(cancelled.session, /Type the site name \(keep\) to go ahead/);
    pane!.keys(cancelled.session, "C-c");
    await pane!.waitFor(cancelled.session, /Nothing was changed\./);
    expect(await cancelled.exitCode()).toBe(130);
    expect(everything()).toEqual(before);
  });

  it("backup restore says what it replaces and the archive's age, and asks: no (the default) changes nothing", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const before = everything();
    const run = startCliInPane(pane!, dir, cliBin, ["backup", "restore", archive]);
    const screen = await pane!.waitFor(run.session, /Go ahead\?/);
    expect(screen).toMatch(new RegExp(`stepwise backup restore replaces the data of site keep with .*, made \\d+[smhd].* ago \\(\\d{4}-`));
    expect(screen).toMatch(new RegExp(`- volume ${VOLUME}: its current data \\(\\d+ B\\) is replaced`));
    expect(screen).toContain("- secrets: .stepwise/secrets.age (now holding db_password) is replaced by the archive's");
    expect(screen).toMatch(/- state: serial \d+, written .* ago, is replaced by the archive's/);
    expect(screen).toContain("A copy of what is replaced is written to .stepwise/backups/ first");
    pane!.keys(run.session, "Enter");
    await pane!.waitFor(run.session, /Nothing was changed\./);
    expect(await run.exitCode()).toBe(0);
    expect(everything()).toEqual(before);
  });

  it("the site name goes ahead: a final backup first, then the volume is gone; restoring that backup brings the rows back", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const run = startCliInPane(pane!, dir, cliBin, ["down", "--volumes"]);
    await pane!.waitFor(run.session, /Type the site name \(keep\) to go ahead/);
    pane!.type(run.session, "keep");
    pane!.keys(run.session, "Enter");
    const screen = await pane!.waitFor(run.session, /To bring it back: stepwise backup restore \S+before-down\.tar\.gz, then stepwise deploy/);
    expect(await run.exitCode()).toBe(0);
    expect(screen).toMatch(/Wrote the final backup \.stepwise\/backups\/keep-\S+-before-down\.tar\.gz/);
    expect(world()[VOLUME]).toBeUndefined();
    const final = backups().find((f) => f.endsWith("-before-down.tar.gz"))!;
    expect(final).toBeDefined();

    // y answers yes to a restore in a terminal.
    const restore = startCliInPane(pane!, dir, cliBin, ["backup", "restore", path.join(".stepwise/backups", final)]);
    await pane!.waitFor(restore.session, /Go ahead\?/);
    pane!.type(restore.session, "y");
    await pane!.waitFor(restore.session, /Restored 1 volume\(s\), secrets and state/);
    expect(await restore.exitCode()).toBe(0);
    expect(world()[VOLUME]?.rows).toEqual(["written before the backup", "written after the backup"]);
    expect((await runCli(["deploy", "--auto-approve"], { cwd: dir })).code).toBe(0);
  });
});

describe("--auto-approve and the safety net", () => {
  it("backup restore -y writes a copy of what it replaces first; restoring that copy brings back a row written after the first backup", async () => {
    const restore = await runCli(["backup", "restore", archive, "-y"], { cwd: dir });
    expect(restore.code, restore.stderr).toBe(0);
    const copy = /Wrote a copy of what this restore replaced: (\S+)\. To undo the restore: stepwise backup restore (\S+)\n/.exec(restore.stdout);
    expect(copy, restore.stdout).not.toBeNull();
    expect(copy![2]).toBe(copy![1]);
    expect(copy![1]).toMatch(/-before-restore\.tar\.gz$/);
    expect(world()[VOLUME]?.rows).toEqual(["written before the backup"]);

    const undo = await runCli(["backup", "restore", copy![1]!, "--auto-approve"], { cwd: dir });
    expect(undo.code, undo.stderr).toBe(0);
    expect(world()[VOLUME]?.rows).toEqual(["written before the backup", "written after the backup"]);
  });

  it("down --volumes -y goes ahead without a terminal; --no-final-backup writes none", async () => {
    const count = backups().length;
    const down = await runCli(["down", "--volumes", "-y", "--no-final-backup"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain("The data was deleted (no final backup was written).");
    expect(world()[VOLUME]).toBeUndefined();
    expect(backups()).toHaveLength(count);
    expect((await runCli(["deploy", "--auto-approve"], { cwd: dir })).code).toBe(0);
  });

  it("keeps the newest 5 safety backups, never backup create's; backup prune --keep N deletes the oldest beyond N", async () => {
    for (let i = 0; i < 6; i++) {
      // deploy makes the volume again, so each down has data to back up.
      expect((await runCli(["deploy", "--auto-approve"], { cwd: dir })).code).toBe(0);
      expect((await runCli(["down", "--volumes", "-y"], { cwd: dir })).stdout).toContain("Wrote the final backup");
    }
    const safety = () => backups().filter((f) => /-before-(down|restore)\.tar\.gz$/.test(f));
    expect(safety()).toHaveLength(5);
    expect(backups()).toContain(path.basename(archive));
    const newest = safety().slice(-2);
    const prune = await runCli(["backup", "prune", "--keep", "2", "-y"], { cwd: dir });
    expect(prune.code, prune.stderr).toBe(0);
    expect(safety()).toEqual(newest);
    expect(backups()).toContain(path.basename(archive));
  });
});
