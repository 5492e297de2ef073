// The azblob backend through the built CLI, against Azurite: deploys, the lease lock under
// contention and after kill -9, state unlock, history/restore, migrate round trips, no secret
// in any blob, and DefaultAzureCredential over HTTPS with a managed-identity token.
import { readFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AgeSecretBackend } from "@stepwise/core/engine";
import { createAzblobBackend } from "../../packages/state-azblob/src/azblob-backend.js";
import { collect, runCli, startCli } from "../e2e/cli-harness.js";
import { containerClient, dumpBlobs, keyEnv, makeAzblobSite } from "./azblob-site.js";

const HOLDER = /State is locked by pid (\d+) on host \S+ \(user \S+, deploy since /;

/** The site's backend, opened in this process (to look at the lock). */
function backendOf(site: ReturnType<typeof makeAzblobSite>) {
  return createAzblobBackend({ container: site.container, blob: site.blob }, { siteDir: site.dir, siteName: "fixture-site", warn: () => {} }, keyEnv(site.env));
}

async function waitForLock(site: ReturnType<typeof makeAzblobSite>, pid: number): Promise<void> {
  const backend = await backendOf(site);
  for (let i = 0; i < 200; i++) {
    const found = await backend.inspectLock();
    if (found && "pid" in found && found.pid === pid) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`pid ${pid} never took the lock`);
}

describe("azblob state through the CLI", () => {
  it("deploys into a new container (saying so), plans no changes after, and no secret reaches any blob or its metadata", async () => {
    const site = makeAzblobSite();
    site.container = `c${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    site.writeYaml({ container: site.container, blob: site.blob });
    const deploy = await runCli(["deploy"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(deploy.stderr).toContain(`Created the blob container ${site.container}`);
    expect(deploy.code, deploy.stderr).toBe(0);
    const plan = await runCli(["plan", "--expect-no-changes"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const show = await runCli(["state", "show", "--json"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(JSON.parse(show.stdout).steps.publish.status).toBe("succeeded");

    const { names, text } = await dumpBlobs(site.env, site.container, path.dirname(site.blob));
    expect(names).toContain(site.blob);
    expect(names).toContain(`${site.blob}.lock`);
    expect(names.some((n) => n.startsWith(`${site.blob}.objects/`))).toBe(true);
    const token = (await new AgeSecretBackend(site.dir).readAll()).get("api_token")!;
    expect(token.length).toBeGreaterThan(20);
    for (const secret of [site.env.key, site.env.connectionString, token]) {
      expect(text).not.toContain(secret);
      for (const output of [deploy, plan, show]) expect(output.stdout + output.stderr).not.toContain(secret);
    }
    // The writer is recorded with each document (who wrote, for a conflict's message).
    expect(text).toMatch(/"writer":"[^"]*pid%20\d+"/);
  });

  it("a connection string in stepwise.yaml is refused (exit 2), and an unreachable service is named without the key", async () => {
    const site = makeAzblobSite();
    const yaml = readFileSync(path.join(site.dir, "stepwise.yaml"), "utf8").replace("    account: stepwiseci\n", `    account: stepwiseci\n    connectionString: "${site.env.connectionString}"\n`);
    await import("node:fs").then((fs) => fs.writeFileSync(path.join(site.dir, "stepwise.yaml"), yaml));
    const refused = await runCli(["plan"], { cwd: site.dir, env: {} });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("state.options.connectionString");
    expect(refused.stderr).toContain("STEPWISE_AZBLOB_CONNECTION_STRING");
    expect(refused.stderr).not.toContain(site.env.key);

    site.writeYaml({ container: site.container, blob: site.blob });
    const down = site.env.connectionString.replace(/127\.0\.0\.1:\d+/, "127.0.0.1:9");
    const unreachable = await runCli(["deploy"], { cwd: site.dir, env: { STEPWISE_AZBLOB_CONNECTION_STRING: down } });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/azblob http:\/\/127\.0\.0\.1:9\/stepwiseci\/sites\/\S+ does not answer while trying to .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toContain(site.env.key);
  });

  it("10 deploys at once: exactly one runs, nine exit 3 naming it; with --lock-wait all ten run, one after another", async () => {
    const site = makeAzblobSite();
    const first = await runCli(["deploy"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(first.code, first.stderr).toBe(0);
    const slow = keyEnv(site.env, { FIXTURE_SLEEP_MS: "4000", FIXTURE_SLEEP_STEP: "docs" });
    const results = await Promise.all(Array.from({ length: 10 }, () => runCli(["deploy", "--force-step", "docs"], { cwd: site.dir, env: slow })));
    const ran = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code === 3);
    expect(ran.length, results.map((r) => r.stderr).join("\n---\n")).toBe(1);
    expect(refused.length).toBe(9);
    for (const r of refused) {
      expect(r.stderr).toMatch(HOLDER);
      expect(r.stderr).toContain("Nothing was changed");
    }

    const serialOf = async () => JSON.parse((await runCli(["state", "show", "--json"], { cwd: site.dir, env: keyEnv(site.env) })).stdout).serial as number;
    const serialBefore = await serialOf();
    const runsBefore = readFileSync(path.join(site.dir, "runs.log"), "utf8").split("\n").filter((l) => l === "docs").length;
    const quick = keyEnv(site.env, { FIXTURE_SLEEP_MS: "300", FIXTURE_SLEEP_STEP: "docs" });
    const waited = await Promise.all(Array.from({ length: 10 }, () => runCli(["deploy", "--force-step", "docs", "--lock-wait", "120s"], { cwd: site.dir, env: quick })));
    for (const r of waited) expect(r.code, r.stderr).toBe(0);
    expect(waited.filter((r) => /Waiting up to 120 s for the state lock held by pid \d+/.test(r.stderr)).length).toBeGreaterThan(0);
    const runsAfter = readFileSync(path.join(site.dir, "runs.log"), "utf8").split("\n").filter((l) => l === "docs").length;
    expect(runsAfter - runsBefore).toBe(10);
    // Each deploy saw the one before it (compare-and-swap would have refused otherwise): at least one write each.
    expect((await serialOf()) - serialBefore).toBeGreaterThanOrEqual(10);
  }, 180_000);

  it("after kill -9 of a deploy the lease runs out by itself; the next run names whose lock it waited for", async () => {
    const site = makeAzblobSite({ leaseSeconds: 15 });
    const child = startCli(["deploy"], { cwd: site.dir, env: keyEnv(site.env, { FIXTURE_SLEEP_MS: "120000", FIXTURE_SLEEP_STEP: "docs" }) });
    const ended = collect(child);
    await waitForLock(site, child.pid!);
    child.kill("SIGKILL");
    await ended;
    const refused = await runCli(["plan"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(refused.code).toBe(0); // a plan takes no lock
    const now = await runCli(["deploy"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(now.code).toBe(3);
    expect(now.stderr).toContain(`State is locked by pid ${child.pid} `);
    const started = Date.now();
    const waited = await runCli(["deploy", "--lock-wait", "60s"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain(`Waiting up to 60 s for the state lock held by pid ${child.pid} `);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 90_000);

  it("state unlock breaks a live run's lease and says whose lock it broke", async () => {
    const site = makeAzblobSite();
    const child = startCli(["deploy"], { cwd: site.dir, env: keyEnv(site.env, { FIXTURE_SLEEP_MS: "120000", FIXTURE_SLEEP_STEP: "docs" }) });
    const ended = collect(child);
    await waitForLock(site, child.pid!);
    const unlock = await runCli(["state", "unlock"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.stdout).toMatch(new RegExp(`Removed the state lock held by pid ${child.pid} on host \\S+ \\(user \\S+, deploy since `));
    expect(await (await backendOf(site)).inspectLock()).toBeUndefined();
    const again = await runCli(["state", "unlock"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(again.stdout).toContain("was not locked");
    child.kill("SIGKILL");
    await ended;
  });

  it("state history lists kept states; state restore N writes one back as a new serial", async () => {
    const site = makeAzblobSite();
    const env = keyEnv(site.env);
    expect((await runCli(["deploy"], { cwd: site.dir, env })).code).toBe(0);
    const before = JSON.parse((await runCli(["state", "show", "--json"], { cwd: site.dir, env })).stdout);
    expect((await runCli(["deploy", "--set", "app.greeting=bonjour"], { cwd: site.dir, env })).code).toBe(0);
    const history = await runCli(["state", "history", "--json"], { cwd: site.dir, env });
    const versions = JSON.parse(history.stdout).versions as { number: number; serial: number }[];
    expect(JSON.parse(history.stdout).keeps).toBe(50);
    expect(versions[0]!.serial).toBeGreaterThan(versions.at(-1)!.serial);
    const human = await runCli(["state", "history"], { cwd: site.dir, env });
    expect(human.stdout).toContain("the last 50 writes are kept");
    const target = versions.find((v) => v.serial === before.serial)!;
    const restore = await runCli(["state", "restore", String(target.number)], { cwd: site.dir, env });
    expect(restore.code, restore.stderr).toBe(0);
    const after = JSON.parse((await runCli(["state", "show", "--json"], { cwd: site.dir, env })).stdout);
    expect(after.steps).toEqual(before.steps);
    expect(after.serial).toBeGreaterThan(versions[0]!.serial);
    const unknown = await runCli(["state", "restore", "999"], { cwd: site.dir, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/keeps no earlier state #999 \(\d+ kept\)/);
  });

  it("state migrate file -> azblob -> file: the old copy is refused with the new setting, and the round trip is byte-equal", async () => {
    const site = makeAzblobSite({ file: true });
    const env = keyEnv(site.env);
    expect((await runCli(["deploy"], { cwd: site.dir, env })).code).toBe(0);
    const stateFile = path.join(site.dir, ".stepwise/state.json");
    const original = readFileSync(stateFile);
    const to = `azblob://stepwiseci/${site.container}/${site.blob}`;

    const there = await runCli(["state", "migrate", "--to", to], { cwd: site.dir, env });
    expect(there.code, there.stderr).toBe(0);
    expect(there.stdout).toContain("matches");
    const refused = await runCli(["deploy"], { cwd: site.dir, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`was migrated to ${to}`);
    expect(refused.stderr).toContain(`backend: azblob, options: { account: stepwiseci, container: ${site.container}, blob: ${site.blob} }`);
    const blob = await containerClient(site.env, site.container).getBlobClient(site.blob).downloadToBuffer();
    expect(blob.equals(original)).toBe(true);

    site.writeYaml({ container: site.container, blob: site.blob });
    const plan = await runCli(["plan", "--expect-no-changes"], { cwd: site.dir, env });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const back = await runCli(["state", "migrate", "--to", "file"], { cwd: site.dir, env });
    expect(back.code, back.stderr).toBe(0);
    expect(readFileSync(stateFile).equals(original)).toBe(true);
    const old = await runCli(["plan"], { cwd: site.dir, env });
    expect(old.code).toBe(2);
    expect(old.stderr).toContain("was migrated to file:.stepwise/state.json");
    expect(old.stderr).toContain("state: { backend: file }");

    site.writeYaml("file");
    const home = await runCli(["plan", "--expect-no-changes"], { cwd: site.dir, env });
    expect(home.code, home.stdout + home.stderr).toBe(0);
  });

  it("--set state.backend / state.options.* choose the state for one run (CI), a secret through --set is refused", async () => {
    const site = makeAzblobSite({ file: true });
    const sets = ["--set", "state.backend=azblob", "--set", "state.options.account=stepwiseci", "--set", `state.options.container=${site.container}`, "--set", `state.options.blob=${site.blob}`];
    const deploy = await runCli(["deploy", ...sets], { cwd: site.dir, env: keyEnv(site.env) });
    expect(deploy.code, deploy.stderr).toBe(0);
    const blob = JSON.parse((await containerClient(site.env, site.container).getBlobClient(site.blob).downloadToBuffer()).toString("utf8"));
    expect(blob.steps.docs.status).toBe("succeeded");
    expect((await runCli(["state", "show"], { cwd: site.dir })).stdout).toContain("No state yet in file .stepwise/state.json");
    const secret = await runCli(["plan", ...sets, "--set", "state.options.sas=sv=1&sig=abc"], { cwd: site.dir, env: keyEnv(site.env) });
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain("state.options.sas: a storage secret belongs neither in stepwise.yaml");
  });

  it("DefaultAzureCredential: a managed-identity token over HTTPS (Azurite --oauth basic), no key anywhere", async () => {
    const site = makeAzblobSite();
    const env = { STEPWISE_AZBLOB_URL: site.env.oauthUrl, IDENTITY_ENDPOINT: site.env.identityEndpoint, IDENTITY_HEADER: site.env.identityHeader, NODE_EXTRA_CA_CERTS: site.env.caFile };
    const deploy = await runCli(["deploy"], { cwd: site.dir, env });
    expect(deploy.code, deploy.stderr).toBe(0);
    const show = await runCli(["state", "show", "--json"], { cwd: site.dir, env });
    expect(JSON.parse(show.stdout).steps.docs.status).toBe("succeeded");
    // Without the identity, the HTTPS service refuses: exit 2 naming the credential problem.
    const anonymous = await runCli(["state", "show"], { cwd: site.dir, env: { STEPWISE_AZBLOB_URL: site.env.oauthUrl, NODE_EXTRA_CA_CERTS: site.env.caFile, AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential" } });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain("storage refused the credential while trying to read the state");
  }, 60_000);
});
