import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceResource, TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES } from "./podman-harness.js";
import { openSession, podman, testScope } from "./helpers.js";

const SITE = "t-conc";
const secrets = { shared: "conc-Shared-33d0a9e1" };
let session: Required<TargetSession>;

const svc = (name: string): ServiceResource => ({
  kind: "service",
  name,
  image: OFFLINE_IMAGES.helper,
  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
  secrets: { SHARED: "shared" },
  volumes: { common: "/common" },
});

describe("podman target: concurrent ensures", () => {
  beforeAll(async () => {
    ({ session } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
  });

  it("several resources of a fresh site made at once share one network, volume and secret", async () => {
    const results = await Promise.all(["a", "b", "c"].map((n) => session.ensure(svc(n), testScope(secrets))));
    expect(results.map((r) => r.change)).toEqual(["created", "created", "created"]);
    expect((await podman("network", "ls", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Name}}")).trim()).toBe("stepwise-t-conc");
    expect((await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Name}}")).trim()).toBe("stepwise-t-conc-common");
    expect((await podman("secret", "ls", "--format", "{{.Name}}")).split("\n").filter((n) => n.startsWith("stepwise-t-conc-"))).toHaveLength(1);
    // The containers reach each other by name on the site network.
    expect(await podman("exec", "stepwise-t-conc-a", "ping", "-c", "1", "-W", "2", "b")).toContain("1 packets received");
  });

  it("refuses to replace a container of the same name that is not this resource's", async () => {
    try {
      // Inside the try: a run that fails after creating the container must not leave it behind.
      await podman("run", "-d", "--name", "stepwise-t-conc-handmade", OFFLINE_IMAGES.helper, "sleep", "30");
      await expect(session.ensure(svc("handmade"), testScope(secrets))).rejects.toMatchObject({
        code: "PODMAN_SPEC_INVALID",
        message: expect.stringContaining("belongs to nothing stepwise made"),
      });
      expect((await podman("ps", "--filter", "name=stepwise-t-conc-handmade", "--format", "{{.Names}}")).trim()).toBe("stepwise-t-conc-handmade");
    } finally {
      await podman("rm", "-f", "-t", "0", "stepwise-t-conc-handmade").catch(() => {});
    }
  });
});
