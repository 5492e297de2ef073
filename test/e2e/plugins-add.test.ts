/**
 * `stepwise plugins list --available` lists installed packages with the `stepwise-plugin`
 * keyword that stepwise.yaml does not list; `stepwise plugins add NAME` installs one with the
 * site's package manager (from its lockfile; argument arrays, no shell) and lists it under
 * `plugins:`, keeping the file's comments. The package managers here are stand-ins on PATH that
 * record their arguments and install the fixture plugin, so no registry is involved.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { fixturePlugin, runCli } from "./cli-harness.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const SITE_YAML = `name: adding
# the plugins, one per line
plugins:
  # - "@stepwise/target-podman"
# target: podman

config:
  app:
    greeting: hello # kept
`;

function makeSite(lockfile?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-add-"));
  dirs.push(dir);
  writeFileSync(path.join(dir, "stepwise.yaml"), SITE_YAML);
  writeFileSync(path.join(dir, "package.json"), '{ "name": "adding", "private": true }\n');
  if (lockfile) writeFileSync(path.join(dir, lockfile), "");
  return dir;
}

function installPackage(site: string, name: string, manifest: Record<string, unknown>): void {
  const root = path.join(site, "node_modules", name);
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name, version: "1.0.0", ...manifest }));
}

/**
 * A directory holding a stand-in `command` for a package manager: it appends its arguments to
 * calls.json and, unless `fail`, installs the fixture plugin as the package its last argument names.
 */
function fakeManager(command: string, options: { fail?: boolean } = {}): { bin: string; calls: () => string[][] } {
  const bin = mkdtempSync(path.join(os.tmpdir(), "stepwise-fake-pm-"));
  dirs.push(bin);
  const log = path.join(bin, "calls.json");
  writeFileSync(log, "[]");
  writeFileSync(
    path.join(bin, command),
    `#!${process.execPath}
const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
fs.writeFileSync(${JSON.stringify(log)}, JSON.stringify([...JSON.parse(fs.readFileSync(${JSON.stringify(log)}, "utf8")), args]));
if (${options.fail === true}) { console.error("404 Not Found"); process.exit(1); }
const name = args.at(-1).replace(/(.)@.*$/, "$1");
fs.cpSync(${JSON.stringify(fixturePlugin)}, path.join(process.cwd(), "node_modules", name), { recursive: true });
`,
  );
  chmodSync(path.join(bin, command), 0o755);
  return { bin, calls: () => JSON.parse(readFileSync(log, "utf8")) as string[][] };
}

const withPath = (bin: string) => ({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` });

describe("stepwise plugins list --available", () => {
  it("lists installed stepwise plugins the site does not list, and nothing else", async () => {
    assertBuilt();
    const site = makeSite();
    writeFileSync(path.join(site, "stepwise.yaml"), SITE_YAML.replace('  # - "@stepwise/target-podman"', "  - listed-plugin"));
    installPackage(site, "listed-plugin", { keywords: ["stepwise-plugin"] });
    installPackage(site, "@acme/stepwise-step-cloud", { keywords: ["stepwise-plugin"], description: "cloud things" });
    installPackage(site, "left-pad", { keywords: ["string"] });
    const list = await runCli(["plugins", "list", "--available"], { cwd: site });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe("@acme/stepwise-step-cloud@1.0.0  cloud things\nInstalled, not listed in stepwise.yaml. Add one with: stepwise plugins add NAME\n");
    const json = await runCli(["plugins", "list", "--available", "--json"], { cwd: site });
    expect(JSON.parse(json.stdout)).toEqual({ available: [{ name: "@acme/stepwise-step-cloud", version: "1.0.0", description: "cloud things", root: path.join(site, "node_modules/@acme/stepwise-step-cloud") }] });
  });
});

describe("stepwise plugins add", () => {
  it("installs with the manager of the site's lockfile and lists the plugin, keeping comments", async () => {
    assertBuilt();
    const site = makeSite("pnpm-lock.yaml");
    const pnpm = fakeManager("pnpm");
    const added = await runCli(["plugins", "add", "stepwise-plugin-fixture@^1.0.0"], { cwd: site, env: withPath(pnpm.bin) });
    expect(added.code, added.stderr).toBe(0);
    expect(pnpm.calls()).toEqual([["add", "stepwise-plugin-fixture@^1.0.0"]]);
    expect(added.stdout).toContain("Added stepwise-plugin-fixture@1.0.0 to plugins: in stepwise.yaml (pnpm add stepwise-plugin-fixture@^1.0.0).");
    const yaml = readFileSync(path.join(site, "stepwise.yaml"), "utf8");
    expect(yaml).toBe(
      SITE_YAML.replace('  # - "@stepwise/target-podman"\n# target: podman\n', '  # - "@stepwise/target-podman"\n  - stepwise-plugin-fixture\n# target: podman\n'),
    );
    // The site plans with it; adding it again installs (an upgrade, say) and leaves the file be.
    expect((await runCli(["plan"], { cwd: site })).code).toBe(0);
    const again = await runCli(["plugins", "add", "stepwise-plugin-fixture"], { cwd: site, env: withPath(pnpm.bin) });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("stepwise-plugin-fixture@1.0.0 is installed; stepwise.yaml lists it already");
    expect(readFileSync(path.join(site, "stepwise.yaml"), "utf8")).toBe(yaml);
  });

  it("uses npm install without a lockfile", async () => {
    const site = makeSite();
    const npm = fakeManager("npm");
    const added = await runCli(["plugins", "add", "stepwise-plugin-fixture", "--json"], { cwd: site, env: withPath(npm.bin) });
    expect(added.code, added.stderr).toBe(0);
    expect(npm.calls()).toEqual([["install", "stepwise-plugin-fixture"]]);
    expect(JSON.parse(added.stdout)).toEqual({ plugin: "stepwise-plugin-fixture", version: "1.0.0", installedWith: ["npm", "install", "stepwise-plugin-fixture"], added: true });
  });

  it("leaves stepwise.yaml as it was when the install fails or the package is not a plugin (exit 2)", async () => {
    const site = makeSite("package-lock.json");
    const failing = fakeManager("npm", { fail: true });
    const failed = await runCli(["plugins", "add", "stepwise-plugin-fixtur"], { cwd: site, env: withPath(failing.bin) });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("Installing stepwise-plugin-fixtur failed: `npm install stepwise-plugin-fixtur` exited with 1");
    expect(failed.stderr).toContain("stepwise.yaml was not changed");
    expect(readFileSync(path.join(site, "stepwise.yaml"), "utf8")).toBe(SITE_YAML);

    // An installed package that is no stepwise plugin.
    const npm = fakeManager("npm");
    cpSync(fixturePlugin, path.join(site, "not-a-plugin"), { recursive: true });
    writeFileSync(path.join(site, "not-a-plugin", "index.js"), "export default { hello: 1 };\n");
    writeFileSync(path.join(npm.bin, "npm"), readFileSync(path.join(npm.bin, "npm"), "utf8").replace(JSON.stringify(fixturePlugin), JSON.stringify(path.join(site, "not-a-plugin"))));
    const refused = await runCli(["plugins", "add", "stepwise-plugin-fixture"], { cwd: site, env: withPath(npm.bin) });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("is not a stepwise plugin");
    expect(readFileSync(path.join(site, "stepwise.yaml"), "utf8")).toBe(SITE_YAML);

    const bad = await runCli(["plugins", "add", "Not A Name"], { cwd: site, env: withPath(npm.bin) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"Not A Name" is not an npm package name');
  });
});
