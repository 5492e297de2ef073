// Issue 4, must show: backup, `down --volumes`, restore, deploy: the data written before the
// backup is there. And: restore checks the archive first and refuses a corrupt or foreign one
// (exit 2) without touching the running site.
import { execFile } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { AgeSecretBackend } from "@stepwise/core/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_RESOURCES, expectOk, greetings, httpGet, makeDemoSite, podman, siteContainerNames, snapshot, type DemoSite } from "./demo-site.js";

const run = promisify(execFile);
let site: DemoSite;
let other: DemoSite;
let archive: string;
const scratch = mkdtempSync(path.join(os.tmpdir(), "stepwise-demo-backups-"));

const psql = (sql: string) => podman("exec", site.container("postgres"), "psql", "-U", "demo", "-d", "demo", "-Atc", sql);
const siteFiles = () => ({
  state: readFileSync(path.join(site.dir, ".stepwise/state.json"), "utf8"),
  secrets: readFileSync(path.join(site.dir, ".stepwise/secrets.age")).toString("base64"),
});
const volumes = async (name: string) => (await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${name}`, "--format", "{{.Name}}")).split("\n").filter(Boolean);

beforeAll(async () => {
  [site, other] = await Promise.all([makeDemoSite("backup"), makeDemoSite("other")]);
  expectOk(await site.cli(["deploy", "--auto-approve"]), "first deploy");
  await psql("INSERT INTO greetings (message) VALUES ('written before the backup')");
  const created = JSON.parse(expectOk(await site.cli(["backup", "create", "--json"]), "backup create").stdout) as { file: string; manifest: { site: string; volumes: string[]; files: Record<string, string> } };
  archive = created.file;
  expect(created.manifest.site).toBe(site.name);
  expect(created.manifest.volumes).toEqual([`stepwise-${site.name}-postgres-data`]);
  expect(Object.keys(created.manifest.files).sort()).toEqual(["secrets.age", "state.json", `volumes/stepwise-${site.name}-postgres-data.tar`]);
});

afterAll(async () => {
  await Promise.all([site?.destroy(), other?.destroy()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe("backup and restore of the demo site", () => {
  it("writes one checked archive under .stepwise/backups, listed as usable", async () => {
    expect(path.dirname(archive)).toBe(path.join(site.dir, ".stepwise/backups"));
    expect(path.basename(archive)).toMatch(new RegExp(`^${site.name}-.*\\.tar\\.gz$`));
    const list = expectOk(await site.cli(["backup", "list", "--json"]), "backup list");
    const backups = (JSON.parse(list.stdout) as { backups: { file: string; ok: boolean; volumes: string[] }[] }).backups;
    expect(backups).toEqual([expect.objectContaining({ file: archive, ok: true, volumes: [`stepwise-${site.name}-postgres-data`] })]);
  });

  it("refuses a corrupt archive, a tampered one and another site's, with exit 2, changing nothing", async () => {
    const before = { containers: await snapshot(site.name), files: siteFiles(), rows: await greetings(site) };

    // 1. Bytes flipped in the middle of the gzip stream.
    const corrupt = path.join(scratch, `${site.name}-corrupt.tar.gz`);
    const bytes = readFileSync(archive);
    for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i]! ^= 0xff;
    writeFileSync(corrupt, bytes);
    // 2. A readable archive whose state.json no longer matches the manifest's checksum.
    const unpacked = path.join(scratch, "unpacked");
    rmSync(unpacked, { recursive: true, force: true });
    await run("mkdir", ["-p", unpacked]);
    await run("tar", ["-xzf", archive, "-C", unpacked]);
    appendFileSync(path.join(unpacked, "state.json"), " ");
    const tampered = path.join(scratch, `${site.name}-tampered.tar.gz`);
    await run("tar", ["-czf", tampered, "-C", unpacked, "."]);
    // 3. A real archive of another site, made by the CLI.
    const foreignRun = expectOk(await other.cli(["backup", "create", "--json", "--output", scratch]), "backup create of the other site");
    const foreign = (JSON.parse(foreignRun.stdout) as { file: string }).file;

    const cases: [string, string, RegExp][] = [
      ["corrupt", corrupt, /it is not a readable archive/],
      ["tampered", tampered, /state\.json does not match its checksum \(the archive is corrupt\)/],
      ["foreign", foreign, new RegExp(`it belongs to site "${other.name}", not "${site.name}"`)],
      ["missing", path.join(scratch, "nope.tar.gz"), /the file does not exist/],
    ];
    for (const [what, file, reason] of cases) {
      const restore = await site.cli(["backup", "restore", file, "--auto-approve"]);
      expect(restore.code, `${what}: ${restore.stderr}`).toBe(2);
      expect(restore.stderr).toMatch(reason);
      expect(restore.stderr).toContain("Nothing was changed.");
      expect(restore.stdout).not.toContain("Restored");
    }

    expect(await snapshot(site.name)).toEqual(before.containers);
    expect(siteFiles()).toEqual(before.files);
    expect(await greetings(site)).toEqual(before.rows);
    expect(before.rows).toContain("written before the backup");
    expect(expectOk(await site.cli(["plan"]), "plan").stdout).toContain("0 to run, 4 unchanged");
  });

  it("backup, down --volumes, restore, deploy: the rows written before the backup are back, later ones are not", async () => {
    await psql("INSERT INTO greetings (message) VALUES ('written after the backup')");
    expect(await greetings(site)).toEqual(["Hello from stepwise", "written before the backup", "written after the backup"]);

    const down = expectOk(await site.cli(["down", "--volumes", "--auto-approve"]), "down --volumes");
    expect(down.stdout).toContain("The data was deleted. To bring it back: stepwise backup restore");
    expect(await siteContainerNames(site.name)).toEqual([]);
    expect(await volumes(site.name)).toEqual([]);
    await expect(httpGet(site.url, 1000)).rejects.toThrow();

    const restore = expectOk(await site.cli(["backup", "restore", archive, "--auto-approve"]), "backup restore");
    expect(restore.stdout).toContain(`Restored 1 volume(s), secrets and state from ${archive}`);
    expect(await volumes(site.name)).toEqual([`stepwise-${site.name}-postgres-data`]);

    const plan = expectOk(await site.cli(["plan"]), "plan after restore");
    expect(plan.stdout).toMatch(new RegExp(`run +database +drift: container ${site.container("postgres")} is gone`));
    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after restore");
    expect(deploy.stdout).not.toContain("FAILED");
    expect(await siteContainerNames(site.name)).toEqual(DEMO_RESOURCES.map((r) => site.container(r)));
    expect(await greetings(site)).toEqual(["Hello from stepwise", "written before the backup"]);
  });

  it("on a machine that lost state and secrets too (only the age identity kept), restore + deploy bring the same data and password back", async () => {
    const password = (await new AgeSecretBackend(site.dir).readAll()).get("db_password");
    expectOk(await site.cli(["down", "--volumes", "--auto-approve"]), "down --volumes");
    rmSync(path.join(site.dir, ".stepwise/state.json"));
    rmSync(path.join(site.dir, ".stepwise/secrets.age"));
    rmSync(path.join(site.dir, ".stepwise/cache"), { recursive: true, force: true });

    expectOk(await site.cli(["backup", "restore", archive, "--auto-approve"]), "backup restore");
    expect(existsSync(path.join(site.dir, ".stepwise/secrets.age"))).toBe(true);
    expect((await new AgeSecretBackend(site.dir).readAll()).get("db_password")).toBe(password);

    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after restore");
    expect(await greetings(site)).toEqual(["Hello from stepwise", "written before the backup"]);
    expect(expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy again").stdout).toContain("Nothing to do: all 4 steps unchanged.");
  });

  it("down --volumes then deploy (no restore) is a fresh site: the migration runs again on the empty database", async () => {
    expectOk(await site.cli(["down", "--volumes", "--auto-approve"]), "down --volumes");
    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy on fresh volumes");
    expect(deploy.stdout).toMatch(/ok job:migrate/);
    expect(await siteContainerNames(site.name)).toEqual(DEMO_RESOURCES.map((r) => site.container(r)));
    expect(await greetings(site)).toEqual(["Hello from stepwise"]);
  });
});
