import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES, containersConf, podmanHarness } from "./podman-harness.js";
import { openSession, podman, testScope } from "./helpers.js";

const SITE = "t-host";

/**
 * A host whose Podman cannot run containers: a second `podman system service` whose PATH
 * lacks /usr/sbin, so netavark cannot find iptables, exactly as on a fresh Debian machine
 * without the iptables package ("netavark: No such file or directory (os error 2)").
 */
describe("podman target: a host that cannot run containers", () => {
  let dir: string;
  let service: ChildProcess;
  let session: Required<TargetSession>;

  beforeAll(async () => {
    await podmanHarness();
    dir = mkdtempSync("/tmp/sw-host-");
    const socket = join(dir, "podman.sock");
    service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], {
      env: { ...process.env, PATH: "/usr/bin:/bin", CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf },
      stdio: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      try {
        if (statSync(socket).isSocket()) break;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    ({ session } = await openSession(SITE, {}, socket));
  });
  afterAll(async () => {
    await session?.down({ volumes: true }).catch(() => {});
    service?.kill();
    rmSync(dir, { recursive: true, force: true });
    // The container create succeeded before start failed: nothing of the site may be left.
    const left = await podman("ps", "-a", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Names}}");
    expect(left.trim()).toBe("");
  });

  it("reports the missing host tool with the command that installs it, as exit 2, not a step failure", async () => {
    const error = await session
      .ensure({ kind: "service", name: "web", image: OFFLINE_IMAGES.helper, command: ["sleep", "5"], env: {} }, testScope({}))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({
      code: "PODMAN_HOST_UNSUPPORTED",
      exitCode: 2,
      message: expect.stringMatching(/^This host cannot run containers: .*netavark.*iptables/),
      hint: expect.stringContaining("apt-get install -y iptables"),
    });
  });
});

describe("podman target: a host port another process holds", () => {
  it("is exit 2 naming the address and how to find its holder, not a step failure; nothing is left running", async () => {
    const { createServer } = await import("node:net");
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", () => resolve()));
    const port = (holder.address() as { port: number }).port;
    const { session } = await openSession("t-port");
    try {
      const error = await session
        .ensure({ kind: "service", name: "web", image: OFFLINE_IMAGES.helper, command: ["sleep", "30"], env: {}, ports: [{ host: port, container: 8080 }] }, testScope({}))
        .then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: "PODMAN_PORT_IN_USE", exitCode: 2, hint: expect.stringContaining(`sport = :${port}`) });
    } finally {
      holder.close();
      await session.down({ volumes: true });
    }
    expect((await podman("ps", "-a", "--filter", "label=dev.stepwise.site=t-port", "--format", "{{.Names}}")).trim()).toBe("");
  });
});
