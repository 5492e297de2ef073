// What a command loads before it answers, counted rather than timed: each module file costs
// Node's loader a resolve, a read and a link however small it is, and a package loaded on a
// path that does not use it (listr2, prompts, yaml, the schema validator, node:crypto) costs
// milliseconds of a ~80 ms no-op plan. Timings are for bench/; this pins the structure they
// come from, so a build or import change that adds work to the no-op path fails here.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, git } from "../fixtures/git-repo.js";
import { cliBin, makeFixtureSite, repoRoot, runCli } from "./cli-harness.js";

/** A resolve hook that prints every module the process resolves, in order. */
function writeHook(dir: string): string {
  const hook = path.join(dir, "resolve-hook.mjs");
  writeFileSync(
    hook,
    `import { registerHooks } from "node:module";
import { writeSync } from "node:fs";
const seen = new Set();
registerHooks({ resolve(specifier, context, next) {
  const result = next(specifier, context);
  if (!seen.has(result.url)) { seen.add(result.url); writeSync(2, "RESOLVED " + result.url + "\\n"); }
  return result;
} });
`,
  );
  return hook;
}

/** Runs the built CLI with the resolve hook of {@link writeHook}. */
async function resolvedBy(args: string[], cwd: string): Promise<{ ours: string[]; packages: string[]; builtins: string[]; stdout: string; stderr: string }> {
  const hook = writeHook(cwd);
  const result = await runCli(args, { cwd, env: { NODE_OPTIONS: `--import=${hook}` } });
  expect(result.code, result.stderr).toBe(0);
  const urls = [...result.stderr.matchAll(/^RESOLVED (.*)$/gm)].map((m) => m[1]!).filter((url) => !url.endsWith("/resolve-hook.mjs"));
  const files = urls.filter((url) => url.startsWith("file://")).map((url) => new URL(url).pathname);
  return {
    ours: files.filter((file) => file.startsWith(repoRoot) && !file.includes("/node_modules/")).map((file) => path.relative(repoRoot, file)),
    packages: files.filter((file) => file.includes("/node_modules/")),
    builtins: urls.filter((url) => url.startsWith("node:")),
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

describe("start-up: what a command loads", () => {
  it("--version loads the bin and one entry, no package and no more built-ins than start git", async () => {
    const dir = makeFixtureSite();
    const loaded = await resolvedBy(["--version"], dir);
    expect(loaded.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(loaded.ours).toEqual([path.relative(repoRoot, cliBin), "apps/cli/dist/main.js", "apps/cli/package.json"]);
    expect(loaded.packages).toEqual([]);
    expect(new Set(loaded.builtins)).toEqual(new Set(["node:module", "node:child_process", "node:os", "node:path", "node:fs", "node:url"]));
  });

  it("a no-op plan loads the CLI in two files and core in at most three, and nothing it does not use", async () => {
    // The bench's shape: a local plugin whose steps hash files, no secrets (a site with secrets
    // also loads age and node:crypto, for the secrets' HMACs).
    const dir = makeFixtureSite("name: startup\nplugins:\n  - ./plugins/local\n");
    mkdirSync(path.join(dir, "plugins", "local"), { recursive: true });
    writeFileSync(path.join(dir, "plugins", "local", "package.json"), JSON.stringify({ name: "local", version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "*" } }));
    writeFileSync(
      path.join(dir, "plugins", "local", "index.js"),
      `export default { meta: { name: "local", version: "1.0.0" }, steps: [
  { name: "code", inputs: { files: ["src/**"] }, run: async () => ({ n: 1 }) },
  { name: "docs", inputs: { files: ["docs/**"] }, run: async () => ({ n: 2 }) },
] };\n`,
    );
    mkdirSync(path.join(dir, ".stepwise"));
    writeHook(dir); // before the tree is backdated: its directory's listing is kept
    git(dir, "init", "-q", "-b", "main");
    writeFileSync(path.join(dir, ".gitignore"), ".stepwise/\nnode_modules/\nresolve-hook.mjs\n");
    backdate(dir);
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "site");
    const deployed = await runCli(["deploy"], { cwd: dir });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect((await runCli(["plan"], { cwd: dir })).stdout).toContain("0 to run"); // the caches a no-op plan reads

    const loaded = await resolvedBy(["plan"], dir);
    expect(loaded.stdout).toContain("0 to run");
    const cli = loaded.ours.filter((file) => file.startsWith("apps/cli/") && file.endsWith(".js"));
    expect(cli).toEqual([path.relative(repoRoot, cliBin), "apps/cli/dist/main.js", "apps/cli/dist/index.js"]);
    const core = loaded.ours.filter((file) => file.startsWith("packages/core/"));
    expect(core[0]).toBe("packages/core/dist/engine.js");
    // engine.js and the chunks it shares with core's other entries.
    expect(core.length, core.join(" ")).toBeLessThanOrEqual(3);
    // The site's parse and the file hashes come from caches; listr2, prompts, tar are not needed.
    expect(loaded.packages).toEqual([]);
    expect(loaded.builtins, loaded.stderr).not.toContain("node:crypto");
  });
});
