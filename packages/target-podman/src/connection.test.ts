import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { connectPodman, socketCandidates } from "./connection.js";

const log = { info: () => {}, warn: () => {}, debug: () => {}, progress: () => {} };

describe("socketCandidates", () => {
  it("tries config, STEPWISE_PODMAN_SOCKET, DOCKER_HOST (unix only), then Podman's defaults", () => {
    const env = { STEPWISE_PODMAN_SOCKET: "/e/podman.sock", DOCKER_HOST: "unix:///d/docker.sock", XDG_RUNTIME_DIR: "/run/user/1000" };
    const paths = socketCandidates({ configuredSocket: "unix:///c/podman.sock", env }).map((c) => [c.path, c.explicit]);
    expect(paths.slice(0, 3)).toEqual([
      ["/c/podman.sock", true],
      ["/e/podman.sock", true],
      ["/d/docker.sock", true],
    ]);
    expect(paths.slice(3).map(([p]) => p)).toEqual(expect.arrayContaining(["/run/podman/podman.sock", "/run/user/1000/podman/podman.sock"]));
    expect(socketCandidates({ env: { DOCKER_HOST: "tcp://1.2.3.4:2375" } }).some((c) => c.path.includes("1.2.3.4"))).toBe(false);
  });
});

describe("connectPodman without Podman", () => {
  it("throws TARGET_MISSING (exit 2) with the install command when no socket answers and podman is not on PATH", async () => {
    const env = { PATH: "/nonexistent", XDG_RUNTIME_DIR: "/nonexistent" };
    await expect(connectPodman({ env, log })).rejects.toMatchObject({
      code: "TARGET_MISSING",
      exitCode: 2,
      hint: expect.stringContaining("apt-get install -y podman"),
    });
  });

  it("refuses a configured socket that does not answer instead of falling back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stepwise-sock-"));
    try {
      await expect(connectPodman({ configuredSocket: join(dir, "none.sock"), env: { PATH: "/nonexistent" }, log })).rejects.toMatchObject({
        code: "PODMAN_UNREACHABLE",
        location: "config podman.socket",
        hint: expect.stringContaining("podman system service --time=0 unix://"),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("plugin loading", () => {
  it("does not load dockerode until connect", async () => {
    const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
    const script = `import { createRequire } from "node:module";
const plugin = (await import(${JSON.stringify(entry)})).default({});
const require = createRequire(import.meta.url);
console.log(JSON.stringify({ name: plugin.meta.name, targets: plugin.targets.map((t) => t.name), dockerode: Object.keys(require.cache).some((k) => k.includes("dockerode") || k.includes("docker-modem")) }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    expect(JSON.parse(stdout)).toEqual({ name: "@stepwise/target-podman", targets: ["podman"], dockerode: false });
  });
});
