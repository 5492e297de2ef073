import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connectPodman } from "../../packages/target-podman/src/connection.js";
import { containersConf } from "./podman-harness.js";
import { testLogger } from "./helpers.js";

describe("podman target: connection", () => {
  it("starts its own podman system service when no socket answers but podman is installed, and reuses it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sw-pm-"));
    const env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: join(dir, "no-runtime"), CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf };
    const log = testLogger();
    let pid: number | undefined;
    try {
      const api = await connectPodman({ env, log, privateDir: dir });
      expect(api.socketPath).toBe(join(dir, "podman.sock"));
      const started = log.lines.find((l) => l.includes("started podman system service"));
      expect(started).toContain(`unix://${join(dir, "podman.sock")}`);
      pid = Number(/pid (\d+)/.exec(started!)![1]);
      expect(await api.docker.ping()).toBeTruthy();
      const log2 = testLogger();
      const again = await connectPodman({ env, log: log2, privateDir: dir });
      expect(again.socketPath).toBe(api.socketPath);
      expect(log2.lines).toEqual([]);
    } finally {
      if (pid) process.kill(pid, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
