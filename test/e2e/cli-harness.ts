import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const cliBin = path.join(repoRoot, "apps/cli/bin/stepwise.js");
export const fixturePlugin = path.join(repoRoot, "test/fixtures/plugins/stepwise-plugin-fixture");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for CLI runs: no CI-specific TTY behaviour, no inherited fixture switches. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", NO_COLOR: "1" };
  for (const key of Object.keys(env)) if (key.startsWith("FIXTURE_") || key.startsWith("STEPWISE_")) delete env[key];
  return { ...env, ...extra };
}

/** Starts the built CLI as a child process (argument array, no shell). */
export function startCli(args: readonly string[], options: { cwd: string; env?: Record<string, string | undefined>; input?: string }): ChildProcess {
  const child = spawn(process.execPath, [cliBin, ...args], { cwd: options.cwd, env: cliEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
  // A CLI that exits before reading its stdin (a usage error) closes the pipe: not a test failure.
  child.stdin!.on("error", () => {});
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  return child;
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function runCli(args: readonly string[], options: { cwd: string; env?: Record<string, string | undefined>; input?: string }): Promise<CliResult> {
  return collect(startCli(args, options));
}

/** A temp site using the fixture plugin, installed next to it as a real package (a symlink, like a workspace link). */
export function makeFixtureSite(yaml?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-e2e-"));
  mkdirSync(path.join(dir, "src"), { recursive: true });
  mkdirSync(path.join(dir, "docs"), { recursive: true });
  mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  symlinkSync(fixturePlugin, path.join(dir, "node_modules", "stepwise-plugin-fixture"), "dir");
  writeFileSync(path.join(dir, "src", "main.js"), "console.log('main');\n");
  writeFileSync(path.join(dir, "src", "util.js"), "export const x = 1;\n");
  writeFileSync(path.join(dir, "docs", "index.md"), "# docs\n");
  writeFileSync(
    path.join(dir, "stepwise.yaml"),
    yaml ??
      `name: fixture-site
plugins:
  - stepwise-plugin-fixture
config:
  app:
    greeting: hello
`,
  );
  return dir;
}

export function copyPlugin(to: string): void {
  cpSync(fixturePlugin, to, { recursive: true });
}
