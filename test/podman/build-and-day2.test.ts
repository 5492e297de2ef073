import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceResource, StepContext, TargetSession } from "@stepwise/core/engine";
import { networkStep } from "../../packages/target-podman/src/index.js";
import { OFFLINE_IMAGES, repoRoot } from "./podman-harness.js";
import { inspect, openSession, podman, testLogger, testScope } from "./helpers.js";

const SITE = "t-build";
const TOKEN = "build-Token-a61e2c90-secret";
let session: Required<TargetSession>;
let socketPath: string;
let builtImage: string | undefined;

const app = (contextHash: string): ServiceResource => ({
  kind: "service",
  name: "app",
  build: { context: "test/podman/fixtures/web-app", contextHash, args: { BASE_IMAGE: OFFLINE_IMAGES.node, BUILD_MARK: "mark1" } },
  env: { GREETING: "from-build" },
  secrets: { APP_TOKEN: "app_token" },
  ports: [{ container: 8080 }],
  // A command health check, run through Podman (no systemd timers here: ensure drives it).
  healthcheck: { command: ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"], intervalSeconds: 1, retries: 15 },
});

function stepContext(): StepContext {
  const config: Record<string, string> = { "podman.socket": socketPath };
  return {
    site: { name: SITE, dir: repoRoot, preset: "airgapped" },
    step: "podman:network",
    config: { get: (k: string) => config[k] as never },
    secrets: { get: () => undefined, fingerprint: () => undefined },
    files: { list: () => [], read: async () => Buffer.alloc(0), resolve: (p: string) => p },
    outputs: () => ({}),
    previousOutputs: undefined,
    target: undefined as never,
    signal: new AbortController().signal,
    log: testLogger(),
  };
}

describe("podman target: build, health checks, network step, logs", () => {
  beforeAll(async () => {
    ({ session, socketPath } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
    if (builtImage) await podman("image", "rm", builtImage).catch(() => "");
  });

  it("podman:network creates the site network, records its id, and reports it as drift when removed or another one", async () => {
    const ctx = stepContext();
    const first = (await networkStep.run(ctx)) as { network: string; id: string };
    const id = (await podman("network", "inspect", "stepwise-t-build", "--format", "{{.ID}}")).trim();
    expect(first).toEqual({ network: "stepwise-t-build", id });
    const deployed = { ...ctx, previousOutputs: first };
    expect(await networkStep.check!(deployed)).toBeUndefined();
    await podman("network", "rm", "stepwise-t-build");
    expect(await networkStep.check!(deployed)).toEqual({ reason: "network stepwise-t-build is gone" });
    // Recreated by hand (or the socket now reaches another engine): same name, another id.
    await podman("network", "create", "stepwise-t-build");
    expect(await networkStep.check!(deployed)).toEqual({ reason: expect.stringMatching(/^network stepwise-t-build is not the one deployed \(id \w{12} -> \w{12}: another Podman engine, or recreated\)$/) });
    const again = (await networkStep.run(ctx)) as { network: string; id: string };
    expect(again.id).not.toBe(first.id);
    expect(await networkStep.check!({ ...ctx, previousOutputs: again })).toBeUndefined();
  });

  it("builds from a Containerfile, tags by context hash, and waits for the command health check", async () => {
    // A fresh context hash per run, so the build really happens (built images outlive `down`).
    const hash = `h${Date.now().toString(16)}`;
    const scope = testScope({ app_token: TOKEN });
    const result = await session.ensure(app(hash), scope);
    expect(result.change).toBe("created");
    expect(result.outputs.image).toMatch(/^localhost\/stepwise-t-build\/app:[0-9a-f]{16}$/);
    const port = (result.outputs.ports as { host: number }[])[0]!.host;
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("built:from-build:mark1");
    expect((await inspect(result.id)).Config.Labels["dev.stepwise.kind"]).toBe("service");
    expect(scope.log.lines.some((l) => l.includes(`building image ${result.outputs.image}`))).toBe(true);
    expect(scope.log.lines.join("\n")).not.toContain(TOKEN);

    // Same context hash: no build, no restart.
    const again = testScope({ app_token: TOKEN });
    expect((await session.ensure(app(hash), again)).change).toBe("unchanged");
    expect(again.log.lines.some((l) => l.includes("building image"))).toBe(false);

    const status = await session.status();
    expect(status).toEqual([expect.objectContaining({ name: "app", state: "running", health: "healthy" })]);
    builtImage = result.outputs.image as string;
  });

  it("a base image re-tagged to another image is drift, and the next ensure rebuilds on it", async () => {
    const base = "localhost/stepwise-t-build/base:1";
    await podman("tag", OFFLINE_IMAGES.node, base);
    const hash = `b${Date.now().toString(16)}`;
    // Its own service, so the "app" the later tests read is left alone.
    const onBase = (): ServiceResource => ({ ...app(hash), name: "rebased", ports: [], build: { ...app(hash).build!, args: { BASE_IMAGE: base, BUILD_MARK: "mark1" } } });
    try {
      const first = await session.ensure(onBase(), testScope({ app_token: TOKEN }));
      const firstBaseId = (first.outputs.baseImages as Record<string, string>)[base];
      expect(firstBaseId).toBe((await podman("image", "inspect", "--format", "{{.Id}}", base)).trim());
      expect(await session.probe(first, testScope({}))).toBeUndefined();

      // The same tag now names another image (a re-pull or a rebuild of the base would do this).
      await podman("create", "--name", "stepwise-t-build-rebase", OFFLINE_IMAGES.node, "true");
      await podman("commit", "--quiet", "--change", "LABEL rebased=2", "stepwise-t-build-rebase", base);
      await podman("rm", "-f", "stepwise-t-build-rebase");
      expect(await session.probe(first, testScope({}))).toEqual({ reason: `base image ${base} of ${first.id} changed since it was built` });

      const second = await session.ensure(onBase(), testScope({ app_token: TOKEN }));
      expect(second.change).toBe("replaced");
      expect((second.outputs.baseImages as Record<string, string>)[base]).not.toBe(firstBaseId);
      expect(second.outputs.image).not.toBe(first.outputs.image);
      await podman("rm", "-f", second.id);
      await podman("image", "rm", "-f", first.outputs.image as string, second.outputs.image as string).catch(() => "");
    } finally {
      await podman("rm", "-f", "stepwise-t-build-rebase", "stepwise-t-build-rebased").catch(() => "");
      await podman("image", "rm", "-f", base).catch(() => "");
    }
  });

  it("fails clearly when a service exits during start, with redacted logs", async () => {
    const crashing: ServiceResource = {
      kind: "service",
      name: "crasher",
      image: OFFLINE_IMAGES.helper,
      command: ["sh", "-c", 'echo "token is $APP_TOKEN"; exit 4'],
      secrets: { APP_TOKEN: "app_token" },
      restart: "no",
    };
    const error = await session.ensure(crashing, testScope({ app_token: TOKEN })).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string; hint: string },
    );
    expect(error).toMatchObject({ code: "PODMAN_CONTAINER_FAILED", hint: "podman logs stepwise-t-build-crasher" });
    expect(error!.message).toContain("exited with code 4");
    expect(error!.message).toContain("token is [redacted]");
    expect(error!.message).not.toContain(TOKEN);
    await podman("rm", "-f", "stepwise-t-build-crasher");
  });

  it("still catches a service without a health check that dies within 300 ms of its start", async () => {
    const late: ServiceResource = { kind: "service", name: "late-crasher", image: OFFLINE_IMAGES.helper, command: ["sh", "-c", "sleep 0.15; exit 5"], restart: "no" };
    const error = await session.ensure(late, testScope({})).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(error).toMatchObject({ code: "PODMAN_CONTAINER_FAILED" });
    expect(error!.message).toContain("exited with code 5");
    await podman("rm", "-f", "stepwise-t-build-late-crasher");
  });

  it("follows logs until the signal aborts", async () => {
    const controller = new AbortController();
    const stream = await session.logs("app", { follow: true, tail: 5, signal: controller.signal });
    const chunks: string[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c.toString()));
    const ended = new Promise<void>((resolve) => stream.on("end", () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await ended;
    expect(chunks.join("")).not.toContain(TOKEN);
  });

  it("stops at once when the run is aborted", async () => {
    const scope = testScope({});
    scope.controller.abort();
    await expect(session.ensure({ kind: "service", name: "never", image: OFFLINE_IMAGES.helper }, scope)).rejects.toMatchObject({ name: "AbortError" });
    expect(await podman("ps", "-a", "--filter", "name=stepwise-t-build-never", "--format", "{{.Names}}")).toBe("");
  });

  it("refuses a resource it cannot realise", async () => {
    await expect(
      session.ensure({ kind: "objectStore", name: "files", buckets: ["b"], accessKeySecret: "a", secretKeySecret: "s" }, testScope({})),
    ).rejects.toMatchObject({ code: "TARGET_UNSUPPORTED", exitCode: 2 });
    await expect(session.ensure({ kind: "service", name: "x", image: OFFLINE_IMAGES.helper, env: { "BAD-NAME": "1" } }, testScope({}))).rejects.toMatchObject({
      code: "PODMAN_SPEC_INVALID",
    });
    await expect(session.ensure({ kind: "service", name: "y", image: OFFLINE_IMAGES.helper, secrets: { T: "missing" } }, testScope({}))).rejects.toMatchObject({
      code: "SECRET_MISSING",
      hint: "stepwise secrets set missing",
    });
  });
});
