import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AgeSecretBackend } from "@stepwise/core/engine";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, makeFixtureSite, runCli, startCli } from "./cli-harness.js";
import { LeakWatch, assertBuilt, makeComponentSite } from "../fixtures/component-site.js";

const stateFile = (dir: string) => path.join(dir, ".stepwise/state.json");
const stateBytes = (dir: string) => readFileSync(stateFile(dir));
const stateOf = (dir: string) => JSON.parse(readFileSync(stateFile(dir), "utf8")) as { serial: number; lineage: string; site: string; steps: Record<string, unknown> };

/** A deployed fixture site and a LeakWatch over every CLI run a test makes in it. */
async function deployedSite() {
  const dir = makeFixtureSite();
  const watch = new LeakWatch(dir);
  const cli = async (args: string[], input?: string) => watch.keep(args.join(" "), await runCli(args, { cwd: dir, input }));
  expect((await cli(["deploy"])).code).toBe(0);
  return { dir, watch, cli };
}

/** Writes `doc` (a pulled state, edited) next to the site and returns its path. */
function writeCopy(dir: string, name: string, doc: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

describe("stepwise state pull", () => {
  it("with no state yet exits 2 naming the backend and the fix, and writes no file", async () => {
    const dir = makeFixtureSite();
    const pulled = await runCli(["state", "pull", "-o", "copy.json"], { cwd: dir });
    expect(pulled.code).toBe(2);
    expect(pulled.stderr).toContain("No state yet in file .stepwise/state.json; run stepwise deploy.");
    expect(existsSync(path.join(dir, "copy.json"))).toBe(false);
    const json = await runCli(["state", "pull", "--json"], { cwd: dir });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error.code).toBe("STATE_MISSING");
  });

  it("prints the state as stored with each file listing inline, or writes it to a 0644 file; -o into a missing directory is exit 2", async () => {
    const { dir, cli, watch } = await deployedSite();
    const printed = await cli(["state", "pull"]);
    expect(printed.code).toBe(0);
    const pulled = JSON.parse(printed.stdout) as { steps: Record<string, { files?: string }> };
    expect(Object.values(pulled.steps).filter((step) => step.files?.includes(" src/main.js\n"))).toHaveLength(1);
    for (const step of Object.values(pulled.steps)) delete step.files;
    expect(pulled).toEqual(JSON.parse(stateBytes(dir).toString("utf8")));
    const written = await cli(["state", "pull", "-o", "copy.json"]);
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/Wrote the state \(serial \d+, 4 steps\)/);
    expect(readFileSync(path.join(dir, "copy.json"), "utf8")).toEqual(printed.stdout);
    expect(statSync(path.join(dir, "copy.json")).mode & 0o777).toBe(0o644);
    const nowhere = await cli(["state", "pull", "-o", "missing/dir/copy.json"]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain("Cannot write missing/dir/copy.json");
    await watch.assertNoSecretLeaked();
  });
});

describe("stepwise state push", () => {
  it("pull then push is a no-op: nothing written, and the plan has nothing to run", async () => {
    const { dir, cli } = await deployedSite();
    expect((await cli(["state", "pull", "-o", "copy.json"])).code).toBe(0);
    const before = stateBytes(dir);
    const pushed = await cli(["state", "push", "copy.json"]);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain("Nothing to push: copy.json matches the state in file .stepwise/state.json");
    expect(stateBytes(dir)).toEqual(before);
    // Through stdin, as a pipe from state pull would give it.
    const piped = await cli(["state", "push", "-", "--json"], before.toString("utf8"));
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ written: false, steps: { added: [], removed: [], changed: [] } });
    const plan = await cli(["plan", "--json"]);
    expect(JSON.parse(plan.stdout).toRun).toBe(0);
  });

  it("an edited copy replaces the state under a new serial and says which steps changed", async () => {
    const { dir, cli, watch } = await deployedSite();
    const doc = stateOf(dir);
    const serial = doc.serial;
    delete doc.steps.docs;
    const pushed = await cli(["state", "push", writeCopy(dir, "edited.json", doc)]);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain(`(serial ${serial} -> ${serial + 1}): 0 steps added, 1 removed, 0 changed.`);
    expect(pushed.stdout).toContain("  - docs");
    const after = stateOf(dir);
    expect(after.serial).toBe(serial + 1);
    expect(Object.keys(after.steps).sort()).toEqual(["build", "prepare", "publish"]);
    const plan = await cli(["plan"]);
    expect(plan.stdout).toMatch(/run +docs +never run/);
    expect(plan.stdout).toContain("1 to run, 3 unchanged");
    await watch.assertNoSecretLeaked();
  });

  it("refuses another lineage, another site or an older copy (exit 2, naming both values and --force); the state stays byte-identical", async () => {
    const { dir, cli, watch } = await deployedSite();
    expect((await cli(["state", "pull", "-o", "old.json"])).code).toBe(0);
    const current = stateOf(dir);
    const cases = [
      { name: "lineage.json", doc: { ...current, lineage: "0b6c1a9e-0000-4000-8000-000000000000" }, says: [`has lineage 0b6c1a9e-0000-4000-8000-000000000000, but the state in file .stepwise/state.json has lineage ${current.lineage}`] },
      { name: "site.json", doc: { ...current, site: "another-site" }, says: ['is the state of site "another-site", but this site is "fixture-site"'] },
    ];
    for (const { name, doc, says } of cases) {
      const before = stateBytes(dir);
      const refused = await cli(["state", "push", writeCopy(dir, name, doc)]);
      expect(refused.code, name).toBe(2);
      for (const text of says) expect(refused.stderr).toContain(text);
      expect(refused.stderr).toContain(`stepwise state push ${path.join(dir, name)} --force`);
      expect(stateBytes(dir)).toEqual(before);
    }
    // An older copy: someone deployed since old.json was pulled.
    expect((await cli(["deploy", "--force-step", "docs"])).code).toBe(0);
    const newer = stateOf(dir).serial;
    const before = stateBytes(dir);
    const older = await cli(["state", "push", "old.json", "--json"]);
    expect(older.code).toBe(2);
    const error = JSON.parse(older.stdout).error;
    expect(error).toMatchObject({ code: "STATE_PUSH_REFUSED", details: { fields: ["serial"] } });
    expect(error.message).toContain(`old.json has serial ${current.serial}, lower than the current serial ${newer}`);
    expect(error.hint).toContain("stepwise state push old.json --force");
    expect(stateBytes(dir)).toEqual(before);
    await watch.assertNoSecretLeaked();
  });

  it("--force pushes an older copy of another lineage; the written serial is above both", async () => {
    const { dir, cli } = await deployedSite();
    const old = stateOf(dir);
    expect((await cli(["deploy", "--force-all"])).code).toBe(0);
    const newer = stateOf(dir).serial;
    const file = writeCopy(dir, "forced.json", { ...old, lineage: "0b6c1a9e-0000-4000-8000-000000000000" });
    const forced = await cli(["state", "push", file, "--force", "--json"]);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ written: true, serial: { from: newer, to: newer + 1 }, forced: ["lineage", "serial"] });
    const after = stateOf(dir);
    expect(after).toMatchObject({ serial: newer + 1, lineage: "0b6c1a9e-0000-4000-8000-000000000000", site: "fixture-site" });
    expect(after.steps).toEqual(old.steps);
  });

  it("refuses a document that is not state, or of a newer format, with exit 2 and the state unchanged; migrates an older format", async () => {
    const { dir, cli } = await deployedSite();
    const before = stateBytes(dir);
    const broken = await cli(["state", "push", writeCopy(dir, "broken.json", { steps: { web: { status: "done" } } })]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('step "web" has status "done"');
    expect(broken.stderr).toContain("fix: push a document written by stepwise state pull");
    const newer = await cli(["state", "push", writeCopy(dir, "newer.json", { ...stateOf(dir), stateVersion: 99 })]);
    expect(newer.code).toBe(2);
    expect(newer.stderr).toContain("format version 99");
    const missing = await cli(["state", "push", "nope.json"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Cannot read nope.json: no such file");
    expect(stateBytes(dir)).toEqual(before);
    // Format 1 kept file entries in `entries`; the pushed copy is written as format 2.
    const current = stateOf(dir) as unknown as { steps: Record<string, { entries: Record<string, string>; files?: string }> };
    const v1 = structuredClone(current) as typeof current & { stateVersion: number };
    v1.stateVersion = 1;
    for (const step of Object.values(v1.steps)) {
      for (const line of step.files?.split("\n").filter(Boolean) ?? []) {
        const [id, ...file] = line.split(" ");
        step.entries[`file:${file.join(" ")}`] = id!;
      }
      delete step.files;
    }
    const migrated = await cli(["state", "push", writeCopy(dir, "v1.json", v1)]);
    expect(migrated.code).toBe(0);
    // Migrated, it is the very document the state holds.
    expect(migrated.stdout).toContain("Nothing to push: ");
    expect(JSON.parse((await cli(["plan", "--json"])).stdout).toRun).toBe(0);
  });

  it("exits 3 while a deploy holds the lock, naming it, and writes nothing", async () => {
    const { dir, cli } = await deployedSite();
    expect((await cli(["state", "pull", "-o", "copy.json"])).code).toBe(0);
    const copy = stateOf(dir);
    delete copy.steps.docs;
    const file = writeCopy(dir, "edited.json", copy);
    const deploy = startCli(["deploy", "--force-step", "prepare"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "3000", FIXTURE_SLEEP_STEP: "prepare" } });
    const done = collect(deploy);
    const lockFile = path.join(dir, ".stepwise/state.lock");
    for (let i = 0; i < 200 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 25));
    const pushed = await cli(["state", "push", file]);
    expect(pushed.code).toBe(3);
    expect(pushed.stderr).toContain(`State is locked by pid ${deploy.pid}`);
    expect((await done).code).toBe(0);
    // The deploy's own writes are all the state saw: docs is still recorded.
    expect(Object.keys(stateOf(dir).steps)).toContain("docs");
  }, 30_000);
});

const SECRETS_SITE = `name: verify-site
target: recorder
plugins:
  - stepwise-target-recorder
  - "@stepwise/step-email"
config:
  email:
    from: ops@example.com
    smtp:
      host: mail.example.com
      user: mailer
`;

describe("stepwise secrets verify", () => {
  beforeAll(assertBuilt);

  it("names a missing required secret and its command (exit 2), then passes once it is set; never prints a value", async () => {
    const dir = makeComponentSite({ yaml: SECRETS_SITE });
    const watch = new LeakWatch(dir);
    const cli = async (args: string[], input?: string) => watch.keep(args.join(" "), await runCli(args, { cwd: dir, input }));
    const missing = await cli(["secrets", "verify"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("smtp_password: required by email, not set; fix: stepwise secrets set smtp_password");
    // Secrets the settings do not use (the SES keys) are not problems.
    expect(missing.stderr).not.toContain("aws_access_key_id");
    const json = await cli(["secrets", "verify", "--json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "SECRETS_NOT_VERIFIED", details: { problems: [{ name: "smtp_password", fix: "stepwise secrets set smtp_password" }] } });

    const value = "smtp-password-for-verify-0123";
    expect((await cli(["secrets", "set", "smtp_password"], value)).code).toBe(0);
    const ok = await cli(["secrets", "verify"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("1 secret verified: all decrypt, every required one is set (age .stepwise/secrets.age).\n");
    const okJson = await cli(["secrets", "verify", "--json"]);
    expect(okJson.code).toBe(0);
    expect(JSON.parse(okJson.stdout)).toMatchObject({ ok: true, verified: 1, secrets: [{ name: "smtp_password", kind: "provided", status: "set" }] });
    await watch.assertNoSecretLeaked([value]);
  });

  it("a generated secret not made yet is no problem: it is made on the next deploy", async () => {
    const dir = makeFixtureSite();
    const verified = await runCli(["secrets", "verify"], { cwd: dir });
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain("1 secret verified: all decrypt, every required one is set; generated on the next deploy: api_token");
  });

  it("a stored secret too short to redact is a problem naming its fix", async () => {
    const dir = makeComponentSite({ yaml: SECRETS_SITE });
    // Written past SiteSecrets, which refuses short values, as another tool could have.
    await new AgeSecretBackend(dir).setMany(new Map([["smtp_password", "abc"]]));
    const verified = await runCli(["secrets", "verify", "--json"], { cwd: dir });
    expect(verified.code).toBe(2);
    expect(JSON.parse(verified.stdout).error.details.problems).toEqual([
      { name: "smtp_password", problem: "shorter than 4 characters (used by email), too short to hide from output", fix: "stepwise secrets set smtp_password" },
    ]);
  });

  it("a damaged store is exit 2 naming the file, and stays byte-identical", async () => {
    const dir = makeComponentSite({ yaml: SECRETS_SITE });
    expect((await runCli(["secrets", "set", "smtp_password"], { cwd: dir, input: "smtp-password-for-verify-0123" })).code).toBe(0);
    const store = path.join(dir, ".stepwise/secrets.age");
    const damaged = readFileSync(store);
    damaged[damaged.length - 5] ^= 0xff;
    writeFileSync(store, damaged);
    const verified = await runCli(["secrets", "verify"], { cwd: dir });
    expect(verified.code).toBe(2);
    expect(verified.stderr).toContain(`Secrets ${store} cannot be decrypted`);
    expect(verified.stderr).not.toContain("internal error");
    expect(readFileSync(store)).toEqual(damaged);
  });
});
