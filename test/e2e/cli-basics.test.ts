import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeFixtureSite, runCli } from "./cli-harness.js";

/** A plugin whose import leaves a marker file, to prove when plugins are (not) loaded. */
function siteWithMarkerPlugin(): { dir: string; marker: string } {
  const dir = makeFixtureSite(`name: marker-site
plugins:
  - marker-plugin
`);
  const root = path.join(dir, "node_modules", "marker-plugin");
  mkdirSync(root, { recursive: true });
  const marker = path.join(dir, "plugin-was-loaded");
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "marker-plugin", version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "^0.1.0" } }));
  writeFileSync(
    path.join(root, "index.js"),
    `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "loaded");\nexport default { meta: { name: "marker-plugin", version: "1.0.0" }, steps: [] };\n`,
  );
  return { dir, marker };
}

describe("CLI basics", () => {
  it("--version and --help load no plugin; plugins list does", async () => {
    const { dir, marker } = siteWithMarkerPlugin();
    const version = await runCli(["--version"], { cwd: dir });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await runCli(["--help"], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 ok, 1 a step failed, 2 bad usage/config/input, 3 state locked, 130 interrupted.");
    expect((await runCli(["deploy", "--help"], { cwd: dir })).stdout).toContain("--force-step <name>");
    expect(existsSync(marker)).toBe(false);
    const list = await runCli(["plugins", "list"], { cwd: dir });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("marker-plugin@1.0.0");
    expect(existsSync(marker)).toBe(true);
  });

  it("every subcommand's --help lists the global options that apply to it too", async () => {
    const dir = makeFixtureSite();
    for (const args of [["deploy"], ["configure"], ["backup", "restore"], ["state", "show"], ["down"]]) {
      const help = await runCli([...args, "--help"], { cwd: dir });
      expect(help.code, args.join(" ")).toBe(0);
      expect(help.stdout, args.join(" ")).toContain("Global Options:");
      for (const option of ["-C, --site <dir>", "--set <key=value>", "--preset <name>", "--json", "-v, --verbose"]) expect(help.stdout, `${args.join(" ")}: ${option}`).toContain(option);
    }
  });

  it("with --json, --help and --version are one JSON document on stdout too", async () => {
    const dir = makeFixtureSite();
    const help = await runCli(["deploy", "--help", "--json"], { cwd: dir });
    expect(help.code).toBe(0);
    expect((JSON.parse(help.stdout) as { help: string }).help).toContain("Usage: stepwise deploy");
    const version = await runCli(["--json", "--version"], { cwd: dir });
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it("bad usage exits 2 without a stack trace", async () => {
    const dir = makeFixtureSite();
    for (const args of [["frobnicate"], ["deploy", "--concurrency", "0"], ["plan", "--preset", "prod"]]) {
      const result = await runCli(args, { cwd: dir });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it("a broken stepwise.yaml names the file, line and key, with exit 2", async () => {
    const dir = makeFixtureSite("name: broken\nplugins:\n  - stepwise-plugin-fixture\nconfg:\n  a: 1\n");
    const result = await runCli(["plan"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/stepwise\.yaml:4 +confg: unknown key/);
    expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it("init writes a starter site that plans cleanly and ignores .stepwise/", async () => {
    const dir = makeFixtureSite();
    const fresh = path.join(dir, "fresh");
    mkdirSync(fresh);
    const init = await runCli(["init", "--name", "fresh"], { cwd: fresh });
    expect(init.code).toBe(0);
    expect((await runCli(["plan"], { cwd: fresh })).stdout).toContain("0 to run, 0 unchanged");
    expect((await runCli(["init"], { cwd: fresh })).code).toBe(2);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(path.join(fresh, ".gitignore"), "utf8")).toContain(".stepwise/");
  });
});

describe("site problems found when the site is opened", () => {
  it("a ${config.KEY} reference nobody sets fails plan with a suggestion, but other commands still work", async () => {
    const dir = makeFixtureSite(`name: typo-site
plugins:
  - stepwise-plugin-fixture
config:
  demo:
    title: Hello
services:
  web:
    image: example.invalid/web:1
    env:
      TITLE: \${config.demo.titl}
`);
    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain("services.web references ${config.demo.titl}, which no step owns and nothing sets (did you mean demo.title?)");
    const set = await runCli(["secrets", "set", "api_token"], { cwd: dir, input: "a-token-value-123" });
    expect(set.code).toBe(0);
  });
});
