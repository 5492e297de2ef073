/**
 * `stepwise init` sets up a whole site (stepwise.yaml with the schema line, package.json,
 * stepwise.schema.json, .gitignore) and never writes over a file without --force; `stepwise
 * schema` writes the site's JSON Schema with every installed plugin's config keys, which
 * validates the site's yaml and rejects a wrong type or choice under a plugin key.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt, makeComponentSite, RECORDER_AND_COMPONENTS } from "../fixtures/component-site.js";
import { makeFixtureSite, repoRoot, runCli } from "./cli-harness.js";

// ajv and yaml are core's dependencies (the workspace root has neither).
const coreRequire = createRequire(path.join(repoRoot, "packages/core/package.json"));
const Ajv = (coreRequire("ajv") as { default: new (options: object) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: { instancePath: string; keyword: string }[] | null } } }).default;
const YAML = coreRequire("yaml") as { parse(text: string): Record<string, unknown> };
const cli = JSON.parse(readFileSync(path.join(repoRoot, "apps/cli/package.json"), "utf8")) as { version: string };

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function emptyDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-init-"));
  dirs.push(dir);
  return dir;
}

describe("stepwise init", () => {
  it("writes package.json with the CLI and the plugins, the target, and the schema line first", async () => {
    assertBuilt();
    const dir = emptyDir();
    const init = await runCli(["init", "--name", "shop", "--target", "podman", "--plugin", "@stepwise/step-database", "--plugin", "stepwise-step-thirdparty"], { cwd: dir });
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"))).toEqual({
      name: "shop",
      private: true,
      description: "stepwise site shop",
      dependencies: { "@stepwise/cli": `^${cli.version}`, "@stepwise/step-database": "^0.1.0", "@stepwise/target-podman": "^0.1.0", "stepwise-step-thirdparty": "latest" },
    });
    const yaml = readFileSync(path.join(dir, "stepwise.yaml"), "utf8");
    expect(yaml.split("\n")[0]).toBe("# yaml-language-server: $schema=./stepwise.schema.json");
    expect(YAML.parse(yaml)).toMatchObject({ name: "shop", target: "podman", plugins: ["@stepwise/target-podman", "@stepwise/step-database", "stepwise-step-thirdparty"] });
    // The schema the line names exists from the start (core's, until `stepwise schema`), and takes the yaml.
    const schema = JSON.parse(readFileSync(path.join(dir, "stepwise.schema.json"), "utf8"));
    expect(new Ajv({ allErrors: true, strict: false }).compile(schema)(YAML.parse(yaml))).toBe(true);
    expect(readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe(".stepwise/\nnode_modules/\n");
  });

  it("with --target none and an installed plugin: no target, the plugin's installed version, and it plans cleanly", async () => {
    const site = makeFixtureSite();
    dirs.push(site);
    const fresh = path.join(site, "fresh");
    mkdirSync(fresh);
    expect((await runCli(["init", "--target", "none", "--plugin", "stepwise-plugin-fixture"], { cwd: fresh })).code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(fresh, "package.json"), "utf8")).dependencies["stepwise-plugin-fixture"]).toBe("^1.0.0");
    const yaml = YAML.parse(readFileSync(path.join(fresh, "stepwise.yaml"), "utf8"));
    expect(yaml.target).toBeUndefined();
    expect(yaml.plugins).toEqual(["stepwise-plugin-fixture"]);
    writeFileSync(path.join(fresh, "stepwise.yaml"), `${readFileSync(path.join(fresh, "stepwise.yaml"), "utf8").replace("config:\n", "config:\n  app:\n    greeting: hi\n")}`);
    const plan = await runCli(["plan"], { cwd: fresh });
    expect(plan.stderr).toBe("");
    expect(plan.code).toBe(0);
  });

  it("refuses to write over any file it writes, naming it, and writes nothing; --force overwrites", async () => {
    const dir = emptyDir();
    writeFileSync(path.join(dir, "package.json"), '{"name":"mine"}\n');
    const refused = await runCli(["init"], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${path.join(dir, "package.json")} already exists`);
    expect(refused.stderr).toContain("stepwise init --force");
    expect(existsSync(path.join(dir, "stepwise.yaml"))).toBe(false);
    expect(existsSync(path.join(dir, "stepwise.schema.json"))).toBe(false);
    expect(existsSync(path.join(dir, ".gitignore"))).toBe(false);
    expect(readFileSync(path.join(dir, "package.json"), "utf8")).toBe('{"name":"mine"}\n');
    expect((await runCli(["init", "--force"], { cwd: dir })).code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).private).toBe(true);
  });

  it("appends to an existing .gitignore only the lines it lacks, once", async () => {
    const dir = emptyDir();
    writeFileSync(path.join(dir, ".gitignore"), "dist\nnode_modules");
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe("dist\nnode_modules\n.stepwise/\n");
    expect((await runCli(["init", "--force"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe("dist\nnode_modules\n.stepwise/\n");
  });

  it("refuses a --plugin that is not a package name, exit 2", async () => {
    const dir = emptyDir();
    const result = await runCli(["init", "--plugin", "Not A Package"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--plugin Not A Package: not an npm package name");
    expect(existsSync(path.join(dir, "stepwise.yaml"))).toBe(false);
  });
});

describe("stepwise schema", () => {
  it("with the four component plugins: validates the site's yaml and rejects a wrong type or choice under a plugin key", async () => {
    assertBuilt();
    const yaml = `name: schema-site\n${RECORDER_AND_COMPONENTS}config:\n  email:\n    provider: smtp\n    smtp:\n      port: 2525\n  database.redis.enabled: true\n`;
    const dir = makeComponentSite({ yaml });
    dirs.push(dir);
    const result = await runCli(["schema"], { cwd: dir });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const schema = JSON.parse(readFileSync(path.join(dir, "stepwise.schema.json"), "utf8"));
    const config = schema.properties.config.properties;
    expect(config.email.properties.provider).toMatchObject({ enum: expect.arrayContaining(["smtp", "none"]), default: "smtp" });
    expect(config["database.version"]).toMatchObject({ type: "integer", default: 16 });
    expect(config.database.properties.version.description).toContain("@stepwise/step-database@");
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const site = YAML.parse(yaml);
    expect(validate(site)).toBe(true);
    expect(validate({ ...site, config: { email: { provider: "carrier-pigeon" } } })).toBe(false);
    expect(validate.errors).toEqual(expect.arrayContaining([expect.objectContaining({ instancePath: "/config/email/provider", keyword: "enum" })]));
    expect(validate({ ...site, config: { email: { smtp: { port: "twenty-five" } } } })).toBe(false);
    expect(validate({ ...site, config: { "database.redis.enabled": "yes" } })).toBe(false);
    // -o elsewhere and - for stdout
    const unwritable = await runCli(["schema", "-o", "out/s.json"], { cwd: dir });
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toContain(`cannot write ${path.join(dir, "out/s.json")} (ENOENT)`);
    expect(unwritable.stderr).not.toContain("internal error");
    const stdout = await runCli(["schema", "-o", "-"], { cwd: dir });
    expect(JSON.parse(stdout.stdout)).toEqual(schema);
  });

  it("a listed plugin that is not installed fails it with the install command, exit 2, writing nothing", async () => {
    const dir = emptyDir();
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: s\nplugins:\n  - stepwise-step-absent\n");
    const result = await runCli(["schema"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("npm install stepwise-step-absent");
    expect(existsSync(path.join(dir, "stepwise.schema.json"))).toBe(false);
  });
});
