import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PostgresResource, ServiceResource, TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES, repoRoot } from "./podman-harness.js";
import { WEB_APP, inspect, openSession, podman, testScope } from "./helpers.js";
import type { PodmanSession } from "../../packages/target-podman/src/session.js";
import { prepareService } from "../../packages/target-podman/src/service-resource.js";

const SITE = "t-crash";
const secrets = { db_password: "crash-Pass-5b1d0c7e", api_token: "crash-Token-0e4f9a2b" };
const dist = join(repoRoot, "packages/target-podman/dist/index.js");
let session: Required<TargetSession>;
let socketPath: string;

const db: PostgresResource = { kind: "postgres", name: "db", user: "app", databases: ["app"], passwordSecret: "db_password" };
const web: ServiceResource = { kind: "service", name: "web", image: OFFLINE_IMAGES.node, command: WEB_APP, secrets: { API_TOKEN: "api_token" }, ports: [{ container: 8080 }] };

/** Runs ensure(spec) in a child process and SIGKILLs it as soon as it prints a line matching `killAt`. */
function ensureAndKill(spec: object, killAt: RegExp): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "test/podman/fixtures/ensure-child.mjs"), dist, socketPath, SITE, JSON.stringify(spec), JSON.stringify(secrets)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let killed = false;
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (!killed && killAt.test(output)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", () => resolve({ killed, output }));
  });
}

async function siteObjects(): Promise<{ containers: string[]; volumes: string[]; secrets: string[] }> {
  const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).sort();
  return {
    containers: lines(await podman("ps", "-a", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Names}}")),
    volumes: lines(await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Name}}")),
    secrets: lines(await podman("secret", "ls", "--format", "{{.Name}}")).filter((n) => n.startsWith(`stepwise-${SITE}-`)),
  };
}

describe("podman target: kill -9 mid-ensure converges", () => {
  beforeAll(async () => {
    expect(existsSync(dist), "build first: pnpm exec turbo run build --filter=@stepwise/target-podman").toBe(true);
    ({ session, socketPath } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
  });

  it("a postgres killed right after 'creating container' converges on the next ensure", async () => {
    const run = await ensureAndKill(db, /progress creating container/);
    expect(run.killed, run.output).toBe(true);
    const result = await session.ensure(db, testScope(secrets));
    expect(["created", "unchanged"]).toContain(result.change);
    expect((await inspect("stepwise-t-crash-db")).State.Running).toBe(true);
    expect(await siteObjects()).toEqual({
      containers: ["stepwise-t-crash-db"],
      volumes: ["stepwise-t-crash-db-data"],
      secrets: [expect.stringMatching(/^stepwise-t-crash-secret-db_password-[0-9a-f]{12}$/)],
    });
    expect((await session.ensure(db, testScope(secrets))).change).toBe("unchanged");
  });

  it("a container left created but never started (crash between create and start) is started, not duplicated", async () => {
    const first = await session.ensure(web, testScope(secrets));
    // Reproduce the half state exactly: the create ensure() would make, without the start.
    await podman("rm", "-f", "-t", "0", "stepwise-t-crash-web");
    const podmanSession = session as unknown as PodmanSession;
    const { prepared } = await prepareService(podmanSession.api, podmanSession.names, podmanSession.settings, web, process.cwd(), testScope(secrets));
    await podmanSession.api.request({ method: "POST", path: "/v4.0.0/libpod/containers/create", body: prepared.createSpec, what: "create" });
    expect((await inspect("stepwise-t-crash-web")).State.Status).toBe("created");
    expect(await session.probe(first, testScope(secrets))).toEqual({ reason: expect.stringContaining("container stepwise-t-crash-web is created") });

    const again = await session.ensure(web, testScope(secrets));
    expect(again.change).toBe("created");
    expect(again.specHash).toBe(first.specHash);
    expect((await inspect("stepwise-t-crash-web")).State.Running).toBe(true);
    expect((await siteObjects()).containers).toEqual(["stepwise-t-crash-db", "stepwise-t-crash-web"]);
  });

  it("a replacement killed after the old container was removed converges", async () => {
    const changed = { ...web, env: { GREETING: "v2" } };
    const run = await ensureAndKill(changed, /progress replacing container/);
    expect(run.killed, run.output).toBe(true);
    const result = await session.ensure(changed, testScope(secrets));
    expect(["created", "replaced", "unchanged"]).toContain(result.change);
    expect((await inspect("stepwise-t-crash-web")).Config.Labels["dev.stepwise.spec-hash"]).toBe(result.specHash);
    expect((await siteObjects()).containers).toEqual(["stepwise-t-crash-db", "stepwise-t-crash-web"]);
  });
});
