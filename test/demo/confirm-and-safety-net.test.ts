// Issue 16 on real Podman and Postgres: `down --volumes` and `backup restore` ask before they
// destroy or replace data (and refuse without a terminal unless -y), the final backup of
// `down --volumes` brings the data back, and the copy `backup restore` writes of what it
// replaces undoes the restore. The same rules on the recorder target, in more cases:
// test/e2e/confirm-destruction.test.ts.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliBin } from "../e2e/cli-harness.js";
import { TmuxPane, ensureTmux, startCliInPane, terminalEnv } from "../fixtures/tmux-pane.js";
import { containersConf } from "../podman/podman-harness.js";
import { expectOk, greetings, makeDemoSite, podman, snapshot, type DemoSite } from "./demo-site.js";

let site: DemoSite;
let pane: TmuxPane | undefined;
let tmuxProblem: string | undefined;

const psql = (sql: string) => podman("exec", site.container("postgres"), "psql", "-U", "demo", "-d", "demo", "-Atc", sql);
/** The rows, read in the Postgres container itself. */
const rows = async () => (await psql("SELECT message FROM greetings ORDER BY id")).split("\n").filter(Boolean);
const volumes = async () => (await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${site.name}`, "--format", "{{.Name}}")).split("\n").filter(Boolean);

beforeAll(async () => {
  site = await makeDemoSite("safety");
  expectOk(await site.cli(["deploy", "--auto-approve"]), "first deploy");
  await psql("INSERT INTO greetings (message) VALUES ('written before down')");
  tmuxProblem = ensureTmux();
  if (!tmuxProblem) pane = new TmuxPane({ ...terminalEnv(), STEPWISE_PODMAN_SOCKET: site.socketPath, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf });
});

afterAll(async () => {
  pane?.kill();
  await site?.destroy();
});

describe("asking before data is destroyed or replaced", () => {
  it("without a terminal and without -y, down --volumes and backup restore exit 2 and the volume and its rows stay", async () => {
    const before = { containers: await snapshot(site.name), rows: await rows(), volumes: await volumes() };
    expect(before.volumes).toEqual([`stepwise-${site.name}-postgres-data`]);
    const archive = (JSON.parse(expectOk(await site.cli(["backup", "create", "--json"]), "backup create").stdout) as { file: string }).file;
    for (const args of [["down", "--volumes"], ["backup", "restore", archive]]) {
      const refused = await site.cli(args);
      expect(refused.code, `${args.join(" ")}: ${refused.stderr}`).toBe(2);
      expect(refused.stderr).toContain("nobody approved it (no terminal to ask); nothing was changed");
      expect(refused.stderr).toContain("--auto-approve");
    }
    expect(await snapshot(site.name)).toEqual(before.containers);
    expect(await volumes()).toEqual(before.volumes);
    expect(await rows()).toEqual(before.rows);
  });

  it("in a terminal, down --volumes shows the volume and its size, and a wrong site name changes nothing", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const before = { containers: await snapshot(site.name), rows: await rows() };
    const run = startCliInPane(pane!, site.dir, cliBin, ["down", "--volumes"]);
    const screen = await pane!.waitFor(run.session, /Type the site name \(demo-safety-\w+\) to go ahead/);
    expect(screen).toMatch(new RegExp(`- volume stepwise-${site.name}-postgres-data \\(\\d+(\\.\\d)? (B|KiB|MiB)\\): its data is deleted`));
    pane!.type(run.session, "demo");
    pane!.keys(run.session, "Enter");
    await pane!.waitFor(run.session, /That is not demo-safety-\w+\. Nothing was changed\./);
    expect(await run.exitCode()).toBe(0);
    expect(await snapshot(site.name)).toEqual(before.containers);
    expect(await rows()).toEqual(before.rows);
  });
});

describe("the safety net", () => {
  let finalBackup: string;

  it("down --volumes -y writes a final backup first; restoring it brings back a row written before down", async () => {
    const down = expectOk(await site.cli(["down", "--volumes", "-y"]), "down --volumes -y");
    const written = /Wrote the final backup (\S+) \(/.exec(down.stdout);
    expect(written, down.stdout).not.toBeNull();
    finalBackup = path.resolve(site.dir, written![1]!);
    expect(down.stdout).toContain(`To bring it back: stepwise backup restore ${written![1]}`);
    expect(await volumes()).toEqual([]);

    expectOk(await site.cli(["backup", "restore", finalBackup, "-y"]), "restore the final backup");
    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after restore");
    expect(await greetings(site)).toContain("written before down");
    expect(await rows()).toContain("written before down");
  });

  it("backup restore writes a copy of what it replaces; restoring that copy brings back a row written after the first backup", async () => {
    await psql("INSERT INTO greetings (message) VALUES ('written after the final backup')");
    const restore = expectOk(await site.cli(["backup", "restore", finalBackup, "-y"]), "restore over newer data");
    const copy = /Wrote a copy of what this restore replaced: (\S+)\. To undo the restore: stepwise backup restore (\S+)/.exec(restore.stdout);
    expect(copy, restore.stdout).not.toBeNull();
    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after restore");
    expect(await greetings(site)).not.toContain("written after the final backup");

    expectOk(await site.cli(["backup", "restore", path.resolve(site.dir, copy![1]!), "-y"]), "undo the restore");
    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after undo");
    expect(await greetings(site)).toEqual(expect.arrayContaining(["written before down", "written after the final backup"]));
    expect(await rows()).toContain("written after the final backup");
  });
});
