/**
 * The demo site (examples/demo-site) as the tests use it: a private copy per test file in a
 * temp dir, with its own site name (which prefixes every container, volume and network) and
 * its own host port, deployed through the BUILT CLI as a child process against real Podman.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { collect, runCli, startCli, type CliResult } from "../e2e/cli-harness.js";
import { containersConf, podmanHarness, repoRoot } from "../podman/podman-harness.js";

const run = promisify(execFile);
export const demoSource = path.join(repoRoot, "examples/demo-site");
export const SITE_LABEL = "dev.stepwise.site";
export const RESOURCE_LABEL = "dev.stepwise.resource";
/** What a deployed demo runs: Postgres, the finished migration job, the web app. */
export const DEMO_RESOURCES = ["migrate", "postgres", "web"] as const;

export interface DemoSite {
  dir: string;
  name: string;
  port: number;
  url: string;
  socketPath: string;
  /** `stepwise <args> -C <dir>` with the harness's Podman socket. */
  cli(args: readonly string[], options?: { input?: string }): Promise<CliResult>;
  /** Same, but returns the running child (for kill -9 tests). */
  start(args: readonly string[]): ChildProcess;
  /** `stepwise down --volumes` (no final backup), the built images' tags, the temp dir. Never throws. */
  destroy(): Promise<void>;
  container(resource: string): string;
}

/** `podman ...` with the harness's containers.conf; resolves to stdout, rejects on a non-zero exit. */
export async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run("podman", args, { env: { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf }, maxBuffer: 64 << 20 });
  return stdout;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Path: string;
  Args: string[] | null;
  ImageName: string;
  Image: string;
  State: { Status: string; Running: boolean; StartedAt: string; ExitCode: number };
  Config: { Env: string[] | null; Cmd: string[] | null; Entrypoint: string | string[] | null; Labels: Record<string, string> | null };
}

/** `podman container inspect`, or undefined when the container does not exist. */
export async function inspect(container: string): Promise<ContainerInfo | undefined> {
  try {
    return (JSON.parse(await podman("container", "inspect", container)) as ContainerInfo[])[0];
  } catch (error) {
    if (/no such container/i.test(String((error as { stderr?: string }).stderr ?? error))) return undefined;
    throw error;
  }
}

/** The raw inspect JSON of a container, for "this value appears nowhere in it" checks. */
export async function inspectText(container: string): Promise<string> {
  return podman("container", "inspect", container);
}

/** Every container labelled for `site` (any state), by name. */
export async function siteContainerNames(site: string): Promise<string[]> {
  const out = await podman("ps", "-a", "--filter", `label=${SITE_LABEL}=${site}`, "--format", "{{.Names}}");
  return out.split("\n").filter(Boolean).sort();
}

/** Every container whose name starts with the site's prefix, labelled or not (an orphan would be unlabelled). */
export async function containersNamedFor(site: string): Promise<string[]> {
  const out = await podman("ps", "-a", "--filter", `name=^stepwise-${site}-`, "--format", "{{.Names}}");
  return out.split("\n").filter(Boolean).sort();
}

export interface ContainerFacts {
  id: string;
  startedAt: string;
  image: string;
  imageId: string;
  status: string;
}

/** Id, start time and image of each container of the site, keyed by resource (migrate, postgres, web). */
export async function snapshot(site: string): Promise<Record<string, ContainerFacts>> {
  const facts: Record<string, ContainerFacts> = {};
  for (const name of await siteContainerNames(site)) {
    const info = await inspect(name);
    if (!info) continue;
    const resource = info.Config.Labels?.[RESOURCE_LABEL] ?? name;
    facts[resource] = { id: info.Id, startedAt: info.State.StartedAt, image: info.ImageName, imageId: info.Image, status: info.State.Status };
  }
  return facts;
}

/** GET a path of the site; retries connection errors and 5xx until `timeoutMs`. */
export async function httpGet(url: string, timeoutMs = 20_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = await response.text();
      if (response.status < 500) return { status: response.status, body };
      last = new Error(`HTTP ${response.status}: ${body}`);
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs}ms: ${String(last)}`);
}

export async function greetings(site: DemoSite): Promise<string[]> {
  const { status, body } = await httpGet(`${site.url}api/greetings`);
  if (status !== 200) throw new Error(`GET /api/greetings answered ${status}: ${body}`);
  return (JSON.parse(body) as { message: string }[]).map((row) => row.message);
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The demo app's node_modules (pg): the one `npm install --prefix examples/demo-site/app`
 * made, else one installed once under test/.work (moved into place atomically, so parallel
 * test files never see half an install).
 */
export async function demoAppModules(): Promise<string> {
  const fromExample = path.join(demoSource, "app/node_modules");
  if (existsSync(path.join(fromExample, "pg/package.json"))) return fromExample;
  const cached = path.join(repoRoot, "test/.work/demo-app/node_modules");
  if (existsSync(path.join(cached, "pg/package.json"))) return cached;
  const scratch = mkdtempSync(path.join(os.tmpdir(), "stepwise-demo-app-"));
  cpSync(path.join(demoSource, "app/package.json"), path.join(scratch, "package.json"));
  await run("npm", ["install", "--prefix", scratch, "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"], { timeout: 300_000 });
  mkdirSync(path.dirname(cached), { recursive: true });
  try {
    renameSync(path.join(scratch, "node_modules"), cached);
  } catch (error) {
    if (!existsSync(path.join(cached, "pg/package.json"))) throw error;
  }
  rmSync(scratch, { recursive: true, force: true });
  return cached;
}

/** Replaces `from` with `to` in a file of the site; throws when `from` is not there (a silent no-op would test nothing). */
export function editSiteFile(site: Pick<DemoSite, "dir">, file: string, from: string | RegExp, to: string): void {
  const full = path.join(site.dir, file);
  const text = readFileSync(full, "utf8");
  const next = text.replace(from, to);
  if (next === text) throw new Error(`${file}: ${String(from)} not found`);
  writeFileSync(full, next);
}

/**
 * A copy of examples/demo-site in a temp dir: stepwise.yaml with `name: demo-<label>-<random>`
 * and a free host port, the app's sources, its node_modules copied (a symlink would enter the
 * build context as a dangling link), and the two plugins linked from the workspace.
 */
export async function makeDemoSite(label: string): Promise<DemoSite> {
  const { socketPath } = await podmanHarness();
  const name = `demo-${label}-${randomBytes(3).toString("hex")}`;
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), `stepwise-${name}-`));
  mkdirSync(path.join(dir, "app"));
  for (const file of ["stepwise.yaml", "package.json"]) cpSync(path.join(demoSource, file), path.join(dir, file));
  for (const file of ["Containerfile", "package.json", "server.js", "migrate.js", "db.js"]) cpSync(path.join(demoSource, "app", file), path.join(dir, "app", file));
  cpSync(await demoAppModules(), path.join(dir, "app/node_modules"), { recursive: true });
  mkdirSync(path.join(dir, "node_modules/@stepwise"), { recursive: true });
  for (const plugin of ["target-podman", "step-database"]) symlinkSync(path.join(repoRoot, "packages", plugin), path.join(dir, "node_modules/@stepwise", plugin), "dir");
  editSiteFile({ dir }, "stepwise.yaml", /^name: demo$/m, `name: ${name}`);
  editSiteFile({ dir }, "stepwise.yaml", /^(\s+)port: 8080$/m, `$1port: ${port}`);

  const env = { STEPWISE_PODMAN_SOCKET: socketPath, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf };
  const site: DemoSite = {
    dir,
    name,
    port,
    url: `http://127.0.0.1:${port}/`,
    socketPath,
    cli: (args, options = {}) => runCli([...args, "-C", dir], { cwd: dir, env, input: options.input }),
    start: (args) => startCli([...args, "-C", dir], { cwd: dir, env }),
    container: (resource) => `stepwise-${name}-${resource}`,
    async destroy() {
      const down = await site.cli(["down", "--volumes", "--auto-approve", "--no-final-backup"]).catch((error: unknown) => ({ code: -1, stderr: String(error) }) as CliResult);
      if (down.code !== 0) process.stderr.write(`demo cleanup: stepwise down --volumes for ${name} exited ${down.code}: ${down.stderr}\n`);
      // Only this site's tags: sites built from the same context share one image id, and
      // `podman images --filter reference=...` lists every tag of a matching image.
      const images = await podman("images", "--format", "{{.Repository}}:{{.Tag}}").catch(() => "");
      const tags = [...new Set(images.split("\n").filter((tag) => tag.startsWith(`localhost/stepwise-${name}/`)))];
      // `rmi` of one name of a multi-name image only removes that name.
      for (const tag of tags) await podman("rmi", tag).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return site;
}

/** Asserts a CLI run exited 0; otherwise throws with everything it printed. */
export function expectOk(result: CliResult, what: string): CliResult {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code ?? result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  return result;
}

export { collect, type CliResult };
