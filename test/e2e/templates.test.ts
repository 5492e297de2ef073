import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AgeSecretBackend } from "@stepwise/core/engine";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli-harness.js";
import { LeakWatch, assertBuilt, makeComponentSite, recordedCalls } from "../fixtures/component-site.js";

const SITE = `name: templated
target: recorder
plugins:
  - stepwise-target-recorder
  - "@stepwise/step-database"
config:
  database:
    name: shop
templates:
  source: templates
  output: rendered
`;

const ENV = `DATABASE_URL=postgres://\${outputs.database.user}@\${outputs.database.host}:\${outputs.database.port}/\${config.database.name}
DATABASE_PASSWORD=\${secret.db_password}
SHELL_VARIABLE=$\${HOME}
NOT_RENDERED=$\${config.database.name}
UNTOUCHED=\${HOME}
`;
const NGINX = "server_name shop.example.com;\nroot /srv/${config.database.name};\n";

function makeTemplatedSite(version = "0.1.0"): string {
  const dir = makeComponentSite({ yaml: SITE });
  mkdirSync(path.join(dir, "templates/conf.d"), { recursive: true });
  writeFileSync(path.join(dir, "templates/.template-version"), `${version}\n`);
  writeFileSync(path.join(dir, "templates/.env"), ENV);
  writeFileSync(path.join(dir, "templates/conf.d/nginx.conf"), NGINX);
  return dir;
}

const ranOf = (stdout: string) => (JSON.parse(stdout) as { ran: string[] }).ran.sort();

describe("versioned templates through the built CLI", () => {
  beforeAll(assertBuilt);

  it("renders with escapes and 0600 for secrets, reports a hand edit as drift and refuses to overwrite it, and re-renders only templates on a template change", async () => {
    const dir = makeTemplatedSite();
    const watch = new LeakWatch(dir);
    const cli = async (label: string, args: string[]) => watch.keep(label, await runCli(args, { cwd: dir }));

    const first = await cli("deploy", ["deploy", "--verbose"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("templates: rendered rendered/.env (0600)");
    expect(first.stdout).toContain("templates: rendered rendered/conf.d/nginx.conf\n");
    const password = (await new AgeSecretBackend(dir).readAll()).get("db_password")!;
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const envFile = path.join(dir, "rendered/.env");
    const nginxFile = path.join(dir, "rendered/conf.d/nginx.conf");
    expect(readFileSync(envFile, "utf8")).toBe(`DATABASE_URL=postgres://app@postgres.recorder.internal:5432/shop
DATABASE_PASSWORD=${password}
SHELL_VARIABLE=\${HOME}
NOT_RENDERED=\${config.database.name}
UNTOUCHED=\${HOME}
`);
    expect(readFileSync(nginxFile, "utf8")).toBe("server_name shop.example.com;\nroot /srv/shop;\n");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(statSync(nginxFile).mode & 0o777).toBe(0o644);
    expect((await cli("plan", ["plan"])).stdout).toContain("0 to run, 3 unchanged");

    // A hand edit: plan reports drift; deploy refuses (exit 1), names the file and the fix, keeps the edit.
    appendFileSync(envFile, "DEBUG=1\n");
    const plan = await cli("plan after edit", ["plan"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/run +templates +drift: rendered\/\.env was edited by hand/);
    expect(plan.stdout).toContain("1 to run, 2 unchanged");
    const planJson = JSON.parse((await cli("plan --json after edit", ["plan", "--json"])).stdout) as { steps: { name: string; reasons: { kind: string; reason?: string }[] }[] };
    expect(planJson.steps.find((s) => s.name === "templates")!.reasons).toEqual([expect.objectContaining({ kind: "drift", reason: "rendered/.env was edited by hand" })]);
    const refused = await cli("deploy after edit", ["deploy"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("rendered/.env was changed by hand since stepwise rendered it; it was not overwritten.");
    expect(refused.stderr).toContain("fix: move the change into templates/.env (or delete rendered/.env), then: stepwise deploy");
    expect(readFileSync(envFile, "utf8")).toContain("DEBUG=1\n");
    // Asking again does not wear the refusal down.
    expect((await cli("deploy again", ["deploy"])).code).toBe(1);
    expect(readFileSync(envFile, "utf8")).toContain("DEBUG=1\n");

    // The fix the message gives works.
    rmSync(envFile);
    const fixed = await cli("deploy after fix", ["deploy", "--json"]);
    expect(fixed.code).toBe(0);
    expect(ranOf(fixed.stdout)).toEqual(["templates"]);
    expect(readFileSync(envFile, "utf8")).not.toContain("DEBUG=1");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);

    // A template change re-renders only the templates step; the target is asked for nothing.
    const calls = recordedCalls(dir).length;
    appendFileSync(path.join(dir, "templates/conf.d/nginx.conf"), "listen 8443;\n");
    const changedPlan = await cli("plan after template change", ["plan"]);
    expect(changedPlan.stdout).toMatch(/run +templates +file templates\/conf\.d\/nginx\.conf modified/);
    expect(changedPlan.stdout).toContain("1 to run, 2 unchanged");
    const rerendered = await cli("deploy after template change", ["deploy", "--json"]);
    expect(ranOf(rerendered.stdout)).toEqual(["templates"]);
    expect(readFileSync(nginxFile, "utf8")).toContain("listen 8443;");
    expect(recordedCalls(dir)).toHaveLength(calls);

    // A config change re-renders too (config keys a template references are its inputs).
    const renamed = await cli("deploy with --set", ["deploy", "--json", "--set", "database.name=shop2"]);
    expect(ranOf(renamed.stdout)).toEqual(["database", "templates"]);
    expect(readFileSync(nginxFile, "utf8")).toContain("root /srv/shop2;");

    await watch.assertNoSecretLeaked();
  });

  it("a hand edit of one file stops the run before any other file is rewritten", async () => {
    const dir = makeTemplatedSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const envFile = path.join(dir, "rendered/.env");
    const before = readFileSync(envFile, "utf8");
    appendFileSync(path.join(dir, "rendered/conf.d/nginx.conf"), "# mine\n");
    appendFileSync(path.join(dir, "templates/.env"), "NEW=1\n");
    const refused = await runCli(["deploy"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("rendered/conf.d/nginx.conf was changed by hand");
    // .env sorts first, but it was not rewritten: a refused run changes nothing.
    expect(readFileSync(envFile, "utf8")).toBe(before);
  });

  it("refuses templates of a newer minor or another major, naming both versions (exit 2); accepts an older or equal minor", async () => {
    const newer = makeTemplatedSite("0.2.0");
    for (const args of [["plan"], ["deploy"]]) {
      const refused = await runCli(args, { cwd: newer });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("Templates in templates are version 0.2.0, but this stepwise (0.1.0) renders templates up to 0.1.x");
      expect(refused.stderr).toContain("fix: upgrade stepwise");
    }
    expect(existsSync(path.join(newer, "rendered"))).toBe(false);
    expect(recordedCalls(newer)).toEqual([]);

    const major = await runCli(["plan"], { cwd: makeTemplatedSite("1.0.0") });
    expect(major.code).toBe(2);
    expect(major.stderr).toContain("version 1.0.0, but this stepwise (0.1.0)");

    const patch = makeTemplatedSite("0.1.9");
    const deployed = await runCli(["deploy"], { cwd: patch });
    expect(deployed.stderr).toBe("");
    expect(deployed.code).toBe(0);
    expect(existsSync(path.join(patch, "rendered/.env"))).toBe(true);

    const missing = makeTemplatedSite();
    rmSync(path.join(missing, "templates/.template-version"));
    const noVersion = await runCli(["plan"], { cwd: missing });
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain("Template folder templates has no .template-version");
  });
});
