import { spawn } from "node:child_process";
import { mkdirSync, openSync, closeSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { StepLogger } from "@stepwise/core";
import { podmanErrors } from "./errors.js";
import { PodmanApi } from "./podman-api.js";

/** Where a socket path came from, for messages. */
export interface SocketCandidate {
  path: string;
  source: string;
  /** An explicitly configured socket must answer; defaults are only tried. */
  explicit: boolean;
}

export interface ConnectOptions {
  /** `podman.socket` from the site's config, if set. */
  configuredSocket?: string;
  /** Directory for a service this target starts itself (default: a per-user dir under the OS temp dir). */
  privateDir?: string;
  env?: NodeJS.ProcessEnv;
  log: StepLogger;
  signal?: AbortSignal;
}

/**
 * The sockets to try, in order: `podman.socket` config, `STEPWISE_PODMAN_SOCKET`,
 * `DOCKER_HOST` (unix:// only), Podman's rootful default, Podman's rootless default.
 */
export function socketCandidates(options: Pick<ConnectOptions, "configuredSocket" | "env">): SocketCandidate[] {
  const env = options.env ?? process.env;
  const out: SocketCandidate[] = [];
  const add = (path: string | undefined, source: string, explicit: boolean) => {
    if (!path) return;
    const p = path.startsWith("unix://") ? path.slice("unix://".length) : path;
    if (!out.some((c) => c.path === p)) out.push({ path: p, source, explicit });
  };
  add(options.configuredSocket, "config podman.socket", true);
  add(env.STEPWISE_PODMAN_SOCKET, "environment STEPWISE_PODMAN_SOCKET", true);
  if (env.DOCKER_HOST?.startsWith("unix://")) add(env.DOCKER_HOST, "environment DOCKER_HOST", true);
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  if (uid === 0) add("/run/podman/podman.sock", "Podman's rootful default", false);
  const runtimeDir = env.XDG_RUNTIME_DIR ?? (uid > 0 ? `/run/user/${uid}` : undefined);
  if (runtimeDir) add(join(runtimeDir, "podman", "podman.sock"), "Podman's rootless default", false);
  if (uid !== 0) add("/run/podman/podman.sock", "Podman's rootful default", false);
  return out;
}

const clients = new Map<string, Promise<PodmanApi>>();

/**
 * Connects to Podman: the first answering candidate socket; otherwise, when `podman` is on
 * PATH, starts `podman system service --time=0` on a private socket and logs that it did.
 * Clients are cached per socket for the life of the process.
 *
 * Failure: a configured socket (config or env) that does not answer throws
 * `PODMAN_UNREACHABLE`; nothing reachable and no `podman` binary throws `TARGET_MISSING`
 * (exit code 2) with the install command as hint. Nothing is changed in either case.
 */
export async function connectPodman(options: ConnectOptions): Promise<PodmanApi> {
  const candidates = socketCandidates(options);
  for (const candidate of candidates) {
    if (!isSocket(candidate.path)) {
      if (candidate.explicit) throw podmanErrors.unreachable(candidate.path, candidate.source);
      continue;
    }
    try {
      return await clientFor(candidate.path, options.signal);
    } catch (error) {
      if (candidate.explicit) throw podmanErrors.unreachable(candidate.path, candidate.source, error);
    }
  }
  const podman = findOnPath("podman", options.env ?? process.env);
  if (!podman) throw podmanErrors.targetMissing(candidates.map((c) => c.path));
  const dir = options.privateDir ?? join(tmpdir(), `stepwise-podman-${typeof process.getuid === "function" ? process.getuid() : "user"}`);
  const socket = join(dir, "podman.sock");
  if (isSocket(socket)) {
    try {
      return await clientFor(socket, options.signal);
    } catch {
      // A stale socket of a service that died: start a new one below.
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The default lives in a shared temp dir: refuse one somebody else made (or opened up).
  const owner = statSync(dir);
  if (typeof process.getuid === "function" && (owner.uid !== process.getuid() || (owner.mode & 0o077) !== 0)) {
    throw podmanErrors.unreachable(socket, `private directory ${dir} is not owned by you with mode 0700`);
  }
  const logFile = join(dir, "podman-service.log");
  const fd = openSync(logFile, "a", 0o600);
  const child = spawn(podman, ["system", "service", "--time=0", `unix://${socket}`], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: options.env ?? process.env,
  });
  closeSync(fd);
  child.unref();
  options.log.info(`started podman system service on unix://${socket} (pid ${child.pid}, log ${logFile}); stop it with: kill ${child.pid}`);
  const deadline = Date.now() + 30_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    if (child.exitCode !== null) break;
    if (isSocket(socket)) {
      try {
        return await clientFor(socket, options.signal);
      } catch (error) {
        lastError = error;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw podmanErrors.unreachable(socket, `podman system service started by stepwise (log ${logFile})`, lastError);
}

async function clientFor(socketPath: string, signal: AbortSignal | undefined): Promise<PodmanApi> {
  let pending = clients.get(socketPath);
  if (!pending) {
    pending = (async () => {
      const api = new PodmanApi(socketPath);
      const timeout = AbortSignal.timeout(5_000);
      await api.request({ method: "GET", path: "/_ping", signal: signal ? AbortSignal.any([signal, timeout]) : timeout, what: "ping" });
      return api;
    })();
    clients.set(socketPath, pending);
    pending.catch(() => clients.delete(socketPath));
  }
  return pending;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The first regular file named `command` in `env.PATH`'s directories. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
