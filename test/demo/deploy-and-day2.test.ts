// Issue 4, must show: deploy the demo site and read its page; a second deploy touches nothing;
// no secret in inspect/argv/logs/state; status, restart and logs. One deployed copy for all.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { AgeSecretBackend } from "@stepwise/core/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../e2e/cli-harness.js";
import { DEMO_RESOURCES, expectOk, greetings, httpGet, inspect, inspectText, makeDemoSite, podman, siteContainerNames, snapshot, type CliResult, type DemoSite } from "./demo-site.js";

const run = promisify(execFile);
let site: DemoSite;
let firstDeploy: CliResult;
/** Every CLI output this file saw, for the secret check. */
const outputs: string[] = [];
const cli = async (args: string[]) => {
  const result = await site.cli(args);
  outputs.push(result.stdout, result.stderr);
  return result;
};

beforeAll(async () => {
  site = await makeDemoSite("day2");
  firstDeploy = expectOk(await cli(["deploy", "--auto-approve"]), "first deploy");
});

afterAll(async () => {
  await site?.destroy();
});

describe("the demo site on real Podman, through the built CLI", () => {
  it("deploys network, postgres, the migration job and the web app; the page shows rows read from Postgres", async () => {
    expect(firstDeploy.stdout).toMatch(/run +podman:network +never run/);
    expect(firstDeploy.stdout).toMatch(/run +database +never run/);
    expect(firstDeploy.stdout).toMatch(/run +job:migrate +never run/);
    expect(firstDeploy.stdout).toMatch(/run +service:web +never run/);
    expect(firstDeploy.stdout).toContain("Deployed: 4 ran, 0 unchanged.");
    expect(await siteContainerNames(site.name)).toEqual(DEMO_RESOURCES.map((r) => site.container(r)));

    const page = await httpGet(site.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>stepwise demo</h1>");
    expect(page.body).toMatch(/<li>Hello from stepwise <small>\(#1, /);
    expect(await greetings(site)).toEqual(["Hello from stepwise"]);

    // The row really comes from the database: one written straight into Postgres shows up too.
    await podman("exec", site.container("postgres"), "psql", "-U", "demo", "-d", "demo", "-Atc", "INSERT INTO greetings (message) VALUES ('written with psql')");
    expect(await greetings(site)).toEqual(["Hello from stepwise", "written with psql"]);
    expect((await httpGet(site.url)).body).toContain("<li>written with psql <small>");
  });

  it("a second deploy changes nothing: every container keeps its id and start time", async () => {
    const before = await snapshot(site.name);
    expect(Object.keys(before).sort()).toEqual([...DEMO_RESOURCES]);
    const second = expectOk(await cli(["deploy", "--auto-approve"]), "second deploy");
    expect(second.stdout).toContain("Nothing to do: all 4 steps unchanged.");
    for (const step of ["podman:network", "database", "job:migrate", "service:web"]) expect(second.stdout).toMatch(new RegExp(`skip +${step} +unchanged`));
    expect(await snapshot(site.name)).toEqual(before);

    // --expect-no-changes is the CI form of the same promise.
    expectOk(await cli(["plan", "--expect-no-changes"]), "plan --expect-no-changes");
    expect(await snapshot(site.name)).toEqual(before);
  });

  it("a user's own shell, without the demo's environment, plans nothing: how Podman is reached is no input", async () => {
    // No STEPWISE_PODMAN_SOCKET, CONTAINERS_CONF or DOCKER_HOST: the target finds no answering
    // socket and starts its own Podman service (in this TMPDIR), another path to the same engine.
    const tmp = mkdtempSync("/tmp/sw-shell-");
    try {
      const plain = await runCli(["plan", "-C", site.dir], { cwd: site.dir, env: { CONTAINERS_CONF: undefined, DOCKER_HOST: undefined, TMPDIR: tmp } });
      outputs.push(plain.stdout, plain.stderr);
      expect(plain.code, plain.stdout + plain.stderr).toBe(0);
      // The drift checks really went through another socket: the service started for this shell.
      expect((await run("pgrep", ["-f", `unix://${tmp}/`])).stdout.trim()).toMatch(/^\d+/);
      expect(plain.stdout).toContain("0 to run");
      for (const step of ["podman:network", "database", "job:migrate", "service:web"]) expect(plain.stdout).toMatch(new RegExp(`skip +${step} +unchanged`));
    } finally {
      await run("pkill", ["-f", `unix://${tmp}/`]).catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a secret never appears in podman inspect (env, argv), in container or stepwise logs, or in state", async () => {
    const secrets = await new AgeSecretBackend(site.dir).readAll();
    const values = [...secrets.values()].filter((v) => v.length >= 8);
    // The database step owns db_password (used by web, migrate, postgres).
    expect([...secrets.keys()]).toContain("db_password");
    expect(values.length).toBeGreaterThanOrEqual(1);

    // The app really got the password: it reads Postgres (checked above), so PGPASSWORD reached it through the secret mount.
    const web = (await inspect(site.container("web")))!;
    expect(web.Config.Env?.some((e) => e.startsWith("PGPASSWORD="))).toBe(false);
    expect(web.Config.Env).toContain("STEPWISE_SECRET_ENV=PGPASSWORD=db_password");
    // Positive control: the values searched for below are the ones the containers really use.
    expect(await podman("exec", site.container("web"), "cat", "/run/secrets/db_password")).toBe(secrets.get("db_password"));

    const logs = await cli(["logs", "web"]);
    expect(logs.code).toBe(0);
    const status = await cli(["status", "--json"]);
    const plan = await cli(["plan", "--json"]);
    const stateShow = await cli(["state", "show"]);
    const places: Record<string, string> = {
      "stepwise logs web": logs.stdout,
      "stepwise status --json": status.stdout,
      "stepwise plan --json": plan.stdout,
      "stepwise state show": stateShow.stdout,
      "every CLI output of this file": outputs.join("\n"),
    };
    for (const resource of DEMO_RESOURCES) {
      const name = site.container(resource);
      const info = (await inspect(name))!;
      places[`${name} Config.Env`] = JSON.stringify(info.Config.Env);
      places[`${name} Config.Cmd/Entrypoint/Path/Args`] = JSON.stringify([info.Config.Cmd, info.Config.Entrypoint, info.Path, info.Args]);
      places[`podman inspect ${name}`] = await inspectText(name);
      const { stdout, stderr } = await run("podman", ["logs", name], { env: process.env, maxBuffer: 32 << 20 });
      places[`podman logs ${name}`] = stdout + stderr;
    }
    // Host process table: the argv of every process, containers' included.
    places["ps -eo args"] = (await run("ps", ["-eo", "args"], { maxBuffer: 32 << 20 })).stdout;
    // Every file stepwise keeps next to the site except the encrypted store and the identity.
    for (const file of listFiles(path.join(site.dir, ".stepwise"))) {
      if (file.endsWith("secrets.age") || file.endsWith("age-identity.txt")) continue;
      places[file] = readFileSync(file, "latin1");
    }
    expect(Object.keys(places)).toContain(path.join(site.dir, ".stepwise/state.json"));
    expect(places["stepwise logs web"]).toContain("listening on 3000");

    const leaks = Object.entries(places).flatMap(([where, text]) => values.filter((v) => text.includes(v)).map(() => where));
    expect(leaks).toEqual([]);
  });

  it("status shows each service with state, image and start time; logs web prints the app's output", async () => {
    const status = expectOk(await cli(["status"]), "status");
    const facts = await snapshot(site.name);
    const line = (resource: string) => status.stdout.split("\n").find((l) => l.trimStart().startsWith(`${resource} `)) ?? "";
    expect(line("web")).toContain("running");
    expect(line("web")).toContain(`localhost/stepwise-${site.name}/web:`);
    expect(line("web")).toContain(`since ${new Date(facts.web!.startedAt).toISOString()}`);
    expect(line("web")).toContain(`127.0.0.1:${site.port}->3000/tcp`);
    expect(line("postgres")).toContain("running");
    expect(line("postgres")).toContain("localhost/stepwise/postgres:15");
    expect(line("postgres")).toContain(`since ${new Date(facts.postgres!.startedAt).toISOString()}`);
    expect(line("migrate")).toContain("exited");
    for (const step of ["podman:network", "database", "job:migrate", "service:web"]) expect(status.stdout).toMatch(new RegExp(`succeeded +${step} `));

    const json = JSON.parse(expectOk(await cli(["status", "--json"]), "status --json").stdout) as { services: { name: string; state: string; image: string; startedAt?: string }[] };
    expect(json.services.map((s) => `${s.name}:${s.state}`)).toEqual(["migrate:exited", "postgres:running", "web:running"]);
    expect(json.services.find((s) => s.name === "web")!.startedAt).toBe(new Date(facts.web!.startedAt).toISOString());

    const logs = expectOk(await cli(["logs", "web"]), "logs web");
    expect(logs.stdout).toContain("listening on 3000");
    const tail = expectOk(await cli(["logs", "web", "--tail", "1"]), "logs web --tail 1");
    expect(tail.stdout.trim().split("\n")).toHaveLength(1);
    const migrateLogs = expectOk(await cli(["logs", "migrate"]), "logs migrate");
    expect(migrateLogs.stdout).toMatch(/migrated: greetings has \d+ row\(s\)/);

    const unknown = await cli(["logs", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`No container stepwise-${site.name}-nope`);
  });

  it("restart web restarts only web (same id, new start time); the next deploy still changes nothing", async () => {
    const before = await snapshot(site.name);
    const restarted = expectOk(await cli(["restart", "web"]), "restart web");
    expect(restarted.stdout).toContain(`Restarted ${site.container("web")}.`);
    const after = await snapshot(site.name);
    expect(after.web!.id).toBe(before.web!.id);
    expect(after.web!.status).toBe("running");
    expect(Date.parse(after.web!.startedAt)).toBeGreaterThan(Date.parse(before.web!.startedAt));
    expect(after.postgres).toEqual(before.postgres);
    expect(after.migrate).toEqual(before.migrate);
    expect(await greetings(site)).toContain("Hello from stepwise");

    const logs = expectOk(await cli(["logs", "web"]), "logs web");
    expect(logs.stdout.match(/listening on 3000/g)?.length).toBeGreaterThanOrEqual(2);

    const deploy = expectOk(await cli(["deploy", "--auto-approve"]), "deploy after restart");
    expect(deploy.stdout).toContain("Nothing to do: all 4 steps unchanged.");
    expect(await snapshot(site.name)).toEqual(after);

    const unknown = await cli(["restart", "nope"]);
    expect(unknown.code).toBe(2);
    expect(await snapshot(site.name)).toEqual(after);
  });
});

describe("stepwise logs redacts a secret the app itself prints", () => {
  it("a password written to web's stdout shows as [redacted] in stepwise logs (podman logs, which stepwise does not filter, has it)", async () => {
    const password = (await new AgeSecretBackend(site.dir).readAll()).get("db_password")!;
    // Appends to the container's log as if the app had printed it (PID 1 is node, same user).
    await podman("exec", site.container("web"), "sh", "-c", "printf 'app says: %s\\n' \"$(cat /run/secrets/db_password)\" > /proc/1/fd/1");
    const raw = await run("podman", ["logs", site.container("web")], { env: process.env, maxBuffer: 32 << 20 });
    expect(raw.stdout + raw.stderr).toContain(`app says: ${password}`);

    const logs = expectOk(await site.cli(["logs", "web"]), "logs web");
    expect(logs.stdout).toContain("app says: [redacted]");
    expect(logs.stdout).not.toContain(password);
    const tail = expectOk(await site.cli(["logs", "web", "--tail", "1"]), "logs web --tail 1");
    expect(tail.stdout.trim()).toBe("app says: [redacted]");
  });
});

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out;
}
