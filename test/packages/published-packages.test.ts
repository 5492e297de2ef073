/**
 * The packages as they would be published: each workspace package is packed once with
 * `pnpm pack` (which rewrites `workspace:` ranges), and the tarballs are
 * - checked for what they ship (only what a consumer can import), by publint and by
 *   @arethetypeswrong/cli;
 * - installed with plain `npm install` into a site outside the workspace (os.tmpdir), which
 *   the installed CLI deploys (step plugins and no target, so no container engine is needed);
 * - used to follow docs/writing-a-plugin.md literally: scaffold, implement (the guide's code),
 *   test with the kit (the guide's test), pack, install into a site, deploy, re-deploy skipped.
 * npm reaches the registry only for third-party dependencies (--prefer-offline); no
 * @stepwise/* package is ever fetched: they are not published, so such a fetch would fail.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../fixtures/component-site.js";

const run = promisify(execFile);
const PACKAGE_DIRS = [...readdirSync(path.join(repoRoot, "packages")).map((name) => `packages/${name}`), "apps/cli"];
const manifests = new Map(PACKAGE_DIRS.map((dir) => [dir, JSON.parse(readFileSync(path.join(repoRoot, dir, "package.json"), "utf8")) as Manifest]));
const work = mkdtempSync(path.join(os.tmpdir(), "stepwise-published-"));
const tarballs = new Map<string, string>(); // package name -> .tgz
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin?: Record<string, string>;
  keywords?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** An environment without pnpm's npm_* settings (they would steer the npm started here). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", NO_COLOR: "1", npm_config_update_notifier: "false" };
  for (const key of Object.keys(env)) if ((key.startsWith("npm_") && key !== "npm_config_update_notifier") || key.startsWith("STEPWISE_")) delete env[key];
  return env;
}

async function sh(command: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env: cleanEnv(), encoding: "utf8", maxBuffer: 32 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? String(error) };
  }
}

async function npmInstall(cwd: string, specs: readonly string[], extra: readonly string[] = []): Promise<void> {
  const result = await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...extra, ...specs], cwd);
  expect(result.code, result.stderr).toBe(0);
}

const tarball = (name: string) => tarballs.get(name) ?? expect.fail(`${name} was not packed`);
const stepwise = (site: string, args: readonly string[]) => sh(process.execPath, [path.join(site, "node_modules/@stepwise/cli/bin/stepwise.js"), ...args], site);

beforeAll(async () => {
  const packed = path.join(work, "tarballs");
  mkdirSync(packed);
  await Promise.all(
    PACKAGE_DIRS.map(async (dir) => {
      const result = await sh("pnpm", ["pack", "--pack-destination", packed], path.join(repoRoot, dir));
      expect(result.code, result.stderr).toBe(0);
    }),
  );
  for (const manifest of manifests.values()) {
    tarballs.set(manifest.name, path.join(packed, `${manifest.name.replace(/^@/, "").replace("/", "-")}-${manifest.version}.tgz`));
  }
}, 120_000);

/** The relative files a module imports (statically or dynamically), by regular expression. */
function relativeImports(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g)].map((match) => match[1]!);
}

describe.each(PACKAGE_DIRS)("%s as packed", (dir) => {
  const manifest = manifests.get(dir)!;

  it("ships its README, license and only JavaScript a consumer's import reaches", async () => {
    const unpacked = path.join(work, "unpacked", dir);
    mkdirSync(unpacked, { recursive: true });
    await run("tar", ["-xzf", tarball(manifest.name), "-C", unpacked, "--strip-components=1"]);
    const files = readdirSync(unpacked, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(unpacked, path.join(entry.parentPath, entry.name)));
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "LICENSE"]));
    expect(files.filter((file) => file.endsWith(".map") || file.startsWith("src/"))).toEqual([]);
    // Every module follows from an export or the bin, or is loaded by path (core's worker and vendored bundles).
    const entries = [...Object.values(manifest.exports).map((target) => (typeof target === "string" ? target : target.default)), ...Object.values(manifest.bin ?? {})];
    const reached = new Set<string>();
    const pending = entries.map((entry) => path.normalize(entry));
    expect(files).toEqual(expect.arrayContaining(pending));
    while (pending.length) {
      const file = pending.pop()!;
      // (A specifier that names no shipped file is text, such as a template plugin new writes.)
      if (reached.has(file) || !files.includes(file)) continue;
      reached.add(file);
      for (const specifier of relativeImports(readFileSync(path.join(unpacked, file), "utf8"))) pending.push(path.join(path.dirname(file), specifier));
    }
    const loadedByPath = (file: string) => file === "dist/fingerprint/hash-worker.js" || file.startsWith("dist/vendor/") || file === "dist/site/site-schema-validator.cjs";
    expect(files.filter((file) => /\.(c|m)?js$/.test(file) && !reached.has(file) && !loadedByPath(file))).toEqual([]);
  });

  it("passes publint and @arethetypeswrong/cli", async () => {
    const [publint, attw] = await Promise.all([
      sh(process.execPath, [path.join(repoRoot, "node_modules/publint/src/cli.js"), "run", tarball(manifest.name), "--pack", "false", "--strict"], repoRoot),
      // ESM only: the CommonJS resolutions (node10, require from node16) are out of scope.
      sh(process.execPath, [path.join(repoRoot, "node_modules/@arethetypeswrong/cli/dist/index.js"), tarball(manifest.name), "--profile", "esm-only", "--format", "json"], repoRoot),
    ]);
    expect(publint.code, publint.stdout + publint.stderr).toBe(0);
    expect(publint.stdout).toContain("All good!");
    expect(attw.code, attw.stdout + attw.stderr).toBe(0);
    const analysis = JSON.parse(attw.stdout) as { analysis: { problems: unknown[]; entrypoints: Record<string, unknown> } };
    expect(analysis.analysis.problems.filter((problem) => !/node10|node16-cjs/.test(JSON.stringify(problem)))).toEqual([]);
    expect(Object.keys(analysis.analysis.entrypoints)).toEqual(expect.arrayContaining(Object.keys(manifest.exports)));
  });

  it.runIf(manifest.keywords?.includes("stepwise-plugin"))("names @stepwise/core as a peer, never as a dependency", () => {
    const core = manifests.get("packages/core")!;
    expect(manifest.peerDependencies?.["@stepwise/core"]).toBe(`^${core.version}`);
    expect(manifest.dependencies?.["@stepwise/core"]).toBeUndefined();
  });
});

/** A site made by `stepwise init` (the workspace's CLI), then installed from the tarballs with npm. */
async function makeSite(name: string, plugins: readonly string[], extraTarballs: readonly string[] = []): Promise<string> {
  const site = path.join(work, name);
  mkdirSync(site);
  const init = await sh(process.execPath, [path.join(repoRoot, "apps/cli/bin/stepwise.js"), "init", "--target", "none", ...plugins.flatMap((plugin) => ["--plugin", plugin])], site);
  expect(init.code, init.stderr).toBe(0);
  // The tarballs stand in for the registry: npm records them in place of the ^ ranges init wrote.
  await npmInstall(site, [tarball("@stepwise/core"), tarball("@stepwise/cli"), ...plugins.filter((plugin) => tarballs.has(plugin)).map(tarball), ...extraTarballs]);
  return site;
}

describe("installed from the tarballs with npm, outside the workspace", () => {
  it("deploys a site of step plugins without a target with the installed CLI; a second deploy skips everything", async () => {
    const site = await makeSite("site", ["@stepwise/step-email", "@stepwise/step-storage", "@stepwise/step-telemetry"]);
    // One copy of core, the site's: the CLI and the plugins resolve the same package.
    expect(readdirSync(path.join(site, "node_modules/@stepwise")).sort()).toEqual(["cli", "core", "step-email", "step-storage", "step-telemetry"]);
    const list = await stepwise(site, ["plugins", "list"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(`from ${path.join(site, "node_modules/@stepwise/step-email")}`);
    // airgapped: mail is off and files stay local, so no step asks for a target.
    const first = await stepwise(site, ["deploy", "--preset", "airgapped"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("Deployed: 3 ran, 0 unchanged.");
    const second = await stepwise(site, ["deploy", "--preset", "airgapped"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("Nothing to do: all 3 steps unchanged.");
    const schema = await stepwise(site, ["schema"]);
    expect(schema.code, schema.stderr).toBe(0);
    expect(readFileSync(path.join(site, "stepwise.schema.json"), "utf8")).toContain("objectStore");
  });

  it("importing @stepwise/cli runs no command: it exports run()", async () => {
    const site = path.join(work, "site");
    const script = 'const cli = await import("@stepwise/cli"); process.stdout.write(JSON.stringify(Object.keys(cli)));';
    // With a command in argv, as the bin would see it: the import must not act on it.
    const imported = await sh(process.execPath, ["--input-type=module", "-e", script, "deploy"], site);
    expect(imported).toEqual({ code: 0, stdout: '["run"]', stderr: "" });
  });
});

/** The fenced code block of `lang` in the guide that contains `marker`. */
function guideBlock(lang: string, marker: string): string {
  const guide = readFileSync(path.join(repoRoot, "docs/writing-a-plugin.md"), "utf8");
  const block = [...guide.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((match) => match[1]!).find((text) => text.includes(marker));
  return block ?? expect.fail(`docs/writing-a-plugin.md has no \`\`\`${lang} block with ${marker}`);
}

describe("docs/writing-a-plugin.md, followed literally", () => {
  it("scaffold, implement, test with the kit, pack, install into a site, deploy, re-deploy skipped", async () => {
    // A site with the CLI, installed from the tarballs; the guide's author works next to it.
    const site = await makeSite("my-site", []);
    const author = path.join(work, "author");
    mkdirSync(author);
    // 1. Scaffold, with the installed CLI.
    const made = await stepwise(site, ["plugin", "new", "stepwise-step-hello", "--dir", author]);
    expect(made.code, made.stderr).toBe(0);
    const plugin = path.join(author, "stepwise-step-hello");
    // 2. Implement: the guide's step, and 3. its test with the kit.
    writeFileSync(path.join(plugin, "src/hello-step.js"), guideBlock("js", "export const helloStep"));
    writeFileSync(path.join(plugin, "test/hello-step.test.js"), guideBlock("js", "describePlugin("));
    // `npm install` would fetch @stepwise/core from the registry; the tarball stands in for it.
    await npmInstall(plugin, [tarball("@stepwise/core")], ["--no-save"]);
    const tested = await sh("npm", ["test"], plugin);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/ℹ pass [1-9]/);
    expect(tested.stdout).toMatch(/ℹ fail 0/);
    // 4. Try it in a site: npm pack, install the tarball, the guide's stepwise.yaml.
    const pack = await sh("npm", ["pack", "--json", "--pack-destination", author], plugin);
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    expect(packed!.files.map((file) => file.path).sort()).toEqual(["README.md", "package.json", "src/hello-step.js", "src/index.js"]);
    await npmInstall(site, [path.join(author, packed!.filename)]);
    writeFileSync(path.join(site, "stepwise.yaml"), guideBlock("yaml", "stepwise-step-hello"));
    mkdirSync(path.join(site, "hello"));
    writeFileSync(path.join(site, "hello/a.txt"), "Ada\n");
    const list = await stepwise(site, ["plugins", "list"]);
    expect(list.stdout).toContain("stepwise-step-hello@0.1.0");
    expect((await stepwise(site, ["plan"])).stdout).toMatch(/run\s+hello\s+never run/);
    const first = await stepwise(site, ["deploy"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("Deployed: 1 ran");
    const second = await stepwise(site, ["deploy"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("Nothing to do: all 1 steps unchanged.");
    writeFileSync(path.join(site, "hello/b.txt"), "Grace\n");
    expect((await stepwise(site, ["plan"])).stdout).toMatch(/run\s+hello\s+file hello\/b\.txt added/);
  });
});
