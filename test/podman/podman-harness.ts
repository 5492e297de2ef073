/**
 * Test harness for the real-Podman suites: a private `podman system service` (scripts/podman)
 * and the offline images (scripts/images). Both steps are idempotent and cached, so every
 * test file may call {@link podmanHarness} in `beforeAll`; the global setup below does the
 * slow part once per run.
 *
 * Root vitest config:  test.globalSetup: ["test/podman/podman-harness.ts"]
 */
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where the harness keeps its socket, pid file and service log (git-ignored). */
export const harnessDir = process.env.STEPWISE_PODMAN_DIR ?? join(repoRoot, "test/.work/podman");
/** The sandbox's Podman quirks (runc, cgroupfs, file events, low ulimits): harness only. */
export const containersConf = join(repoRoot, "scripts/podman/containers.conf");

export const OFFLINE_IMAGES = {
  helper: "localhost/stepwise/base-busybox:latest",
  postgres: "localhost/stepwise/postgres:15",
  node: "localhost/stepwise/node:latest",
  redis: "localhost/stepwise/redis:7",
} as const;

function harnessEnv(): NodeJS.ProcessEnv {
  // The node that runs the tests is the one copied into localhost/stepwise/node.
  return { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf, STEPWISE_NODE_BINARY: process.env.STEPWISE_NODE_BINARY ?? process.execPath };
}

/** Starts (or reuses) the private Podman service; resolves to its socket path. */
export async function startPodman(dir = harnessDir): Promise<string> {
  const { stdout } = await run("bash", [join(repoRoot, "scripts/podman/start.sh"), dir], { env: harnessEnv(), maxBuffer: 16 << 20 });
  return stdout.trim().split("\n").pop()!;
}

/** Stops the private Podman service (containers keep their state in Podman's storage). */
export async function stopPodman(dir = harnessDir): Promise<void> {
  await run("bash", [join(repoRoot, "scripts/podman/stop.sh"), dir], { env: harnessEnv() });
}

/** Builds the offline images unless their recipe tags exist; resolves to the image names. */
export async function buildImages(which: readonly string[] = ["all"]): Promise<string[]> {
  const { stdout } = await run("bash", [join(repoRoot, "scripts/images/build.sh"), ...which], { env: harnessEnv(), maxBuffer: 64 << 20, timeout: 15 * 60_000 });
  return stdout.trim().split("\n").filter(Boolean);
}

/**
 * The service socket with images in place. Sets CONTAINERS_CONF for anything the test spawns.
 * When STEPWISE_TEST_PODMAN_SOCKET is set (by scripts/test.sh or the global setup below, after
 * both steps ran), it is used as it is.
 */
export async function podmanHarness(): Promise<{ socketPath: string }> {
  process.env.CONTAINERS_CONF ??= containersConf;
  const ready = process.env.STEPWISE_TEST_PODMAN_SOCKET;
  if (ready) return { socketPath: ready };
  const socketPath = await startPodman();
  await buildImages();
  process.env.STEPWISE_TEST_PODMAN_SOCKET = socketPath;
  return { socketPath };
}

/** Vitest global setup: start the service and build the images once per run (test workers inherit the env). */
export async function setup(): Promise<void> {
  await podmanHarness();
}

/** Vitest global teardown: the service is left running for the next run (start.sh reuses it). */
export async function teardown(): Promise<void> {
  if (process.env.STEPWISE_PODMAN_STOP === "1") await stopPodman();
}
