import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobResource, RedisResource, TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES } from "./podman-harness.js";
import { inspect, openSession, podman, testScope } from "./helpers.js";

const SITE = "t-redis";
const PASSWORD = "redis-Pass-4e8a1f0b-hidden";
const secrets = { cache_password: PASSWORD };
let session: Required<TargetSession>;
const cache: RedisResource = { kind: "redis", name: "cache", passwordSecret: "cache_password" };

describe("podman target: redis", () => {
  beforeAll(async () => {
    ({ session } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
  });

  it("runs redis with a password that is in neither env nor argv, reachable by name with it", async () => {
    const result = await session.ensure(cache, testScope(secrets));
    expect(result.change).toBe("created");
    expect(result.outputs).toMatchObject({ host: "stepwise-t-redis-cache", port: 6379, password: { secret: "cache_password" } });
    expect(JSON.stringify(await inspect(result.id))).not.toContain(PASSWORD);
    expect(await podman("exec", result.id, "redis-cli", "ping")).toContain("NOAUTH");

    const job: JobResource = {
      kind: "job",
      name: "writer",
      image: OFFLINE_IMAGES.redis,
      // REDISCLI_AUTH is read by redis-cli; it arrives through the secret shim.
      command: ["redis-cli", "-h", "stepwise-t-redis-cache", "SET", "greeting", "hello"],
      secrets: { REDISCLI_AUTH: "cache_password" },
      timeoutSeconds: 30,
    };
    expect((await session.ensure(job, testScope(secrets))).change).toBe("created");
    expect((await podman("logs", "stepwise-t-redis-writer")).trim()).toBe("OK");

    expect((await session.ensure(cache, testScope(secrets))).change).toBe("unchanged");
  });
});
