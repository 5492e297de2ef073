import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceResource, TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES } from "./podman-harness.js";
import { WEB_APP, inspect, openSession, podman, testScope } from "./helpers.js";

const SITE = "t-svc";
const SECRET = "sv-Value-7f3c9a1e-do-not-leak";
let session: Required<TargetSession>;

const web = (env: Record<string, string> = { GREETING: "hello" }): ServiceResource => ({
  kind: "service",
  name: "web",
  image: OFFLINE_IMAGES.node,
  command: WEB_APP,
  env,
  secrets: { API_TOKEN: "api_token" },
  ports: [{ container: 8080 }],
  healthcheck: { http: "/healthz", intervalSeconds: 1, retries: 10 },
});

describe("podman target: services", () => {
  beforeAll(async () => {
    ({ session } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
  });

  it("creates a service, then leaves it untouched when the spec is unchanged", async () => {
    const scope = testScope({ api_token: SECRET });
    const first = await session.ensure(web(), scope);
    expect(first.change).toBe("created");
    expect(first.id).toBe("stepwise-t-svc-web");
    const before = await inspect(first.id);
    expect(before.Config.Labels["dev.stepwise.site"]).toBe(SITE);
    expect(before.Config.Labels["dev.stepwise.resource"]).toBe("web");
    expect(before.Config.Labels["dev.stepwise.spec-hash"]).toBe(first.specHash);

    const port = (first.outputs.ports as { host: number; hostIp: string }[])[0]!;
    expect(port.hostIp).toBe("127.0.0.1");
    expect(await (await fetch(`http://127.0.0.1:${port.host}/`)).text()).toBe("hello");
    expect(await (await fetch(`http://127.0.0.1:${port.host}/has/API_TOKEN`)).text()).toBe("yes");

    const second = await session.ensure(web(), testScope({ api_token: SECRET }));
    expect(second.change).toBe("unchanged");
    expect(second.specHash).toBe(first.specHash);
    const after = await inspect(first.id);
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
  });

  it("never exposes the secret value in inspect, argv, labels or logs", async () => {
    const info = JSON.stringify(await inspect("stepwise-t-svc-web"));
    expect(info).not.toContain(SECRET);
    const parsed = await inspect("stepwise-t-svc-web");
    expect(parsed.Config.Env.join("\n")).not.toContain(SECRET);
    expect(JSON.stringify(parsed.Config.Cmd)).not.toContain(SECRET);
    expect(await podman("logs", "stepwise-t-svc-web")).not.toContain(SECRET);
    expect(await podman("secret", "ls", "--format", "{{.Name}}")).not.toContain(SECRET);
  });

  it("replaces only the changed container when env changes", async () => {
    const before = await inspect("stepwise-t-svc-web");
    const changed = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: SECRET }));
    expect(changed.change).toBe("replaced");
    const after = await inspect("stepwise-t-svc-web");
    expect(after.Id).not.toBe(before.Id);
    const port = (changed.outputs.ports as { host: number }[])[0]!;
    expect(await (await fetch(`http://127.0.0.1:${port.host}/`)).text()).toBe("changed");
    const all = await podman("ps", "-a", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Names}}");
    expect(all.trim().split("\n")).toEqual(["stepwise-t-svc-web"]);
  });

  it("replaces the container when a secret value is rotated", async () => {
    const before = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: SECRET }));
    expect(before.change).toBe("unchanged");
    const rotated = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: `${SECRET}-2` }));
    expect(rotated.change).toBe("replaced");
    const secrets = (await podman("secret", "ls", "--format", "{{.Name}}")).split("\n").filter((s) => s.startsWith("stepwise-t-svc-"));
    expect(secrets).toHaveLength(1);
  });

  it("reports drift when the container is removed by hand, and ensure recreates it", async () => {
    const result = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: `${SECRET}-2` }));
    expect(await session.probe(result, testScope({}))).toBeUndefined();
    await podman("rm", "-f", "-t", "0", result.id);
    expect(await session.probe(result, testScope({}))).toEqual({ reason: "container stepwise-t-svc-web is gone" });
    const again = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: `${SECRET}-2` }));
    expect(again.change).toBe("created");
    expect(await session.probe(again, testScope({}))).toBeUndefined();
  });

  it("reports a stopped container as drift and status/restart/logs see the service", async () => {
    const result = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: `${SECRET}-2` }));
    const status = await session.status();
    expect(status).toEqual([expect.objectContaining({ name: "web", kind: "service", state: "running", image: OFFLINE_IMAGES.node })]);
    expect(status[0]!.ports![0]).toMatch(/^127\.0\.0\.1:\d+->8080\/tcp$/);
    const startedBefore = (await inspect(result.id)).State.StartedAt;
    expect(await session.restart("web")).toEqual(["stepwise-t-svc-web"]);
    expect((await inspect(result.id)).State.StartedAt).not.toBe(startedBefore);
    await expect(session.restart("nope")).rejects.toMatchObject({ code: "USAGE" });

    const logs = await session.logs("web", { follow: false, tail: 10, signal: new AbortController().signal });
    let text = "";
    for await (const chunk of logs as AsyncIterable<Buffer | string>) text += chunk.toString();
    expect(text).not.toContain(SECRET);

    await podman("stop", "-t", "5", result.id);
    expect(await session.probe(result, testScope({}))).toEqual({ reason: expect.stringMatching(/^container stepwise-t-svc-web is (exited|stopped)/) });
    const repaired = await session.ensure(web({ GREETING: "changed" }), testScope({ api_token: `${SECRET}-2` }));
    expect(repaired.change).toBe("created");
    expect((await inspect(result.id)).State.Running).toBe(true);
  });
});
