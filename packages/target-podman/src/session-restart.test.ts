import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Label, SiteNames } from "./naming.js";
import { PodmanApi } from "./podman-api.js";
import { PodmanSession } from "./session.js";
import { DEFAULT_SETTINGS } from "./settings.js";

const log = { info: () => {}, warn: () => {}, debug: () => {}, progress: () => {} };
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A Podman API on a unix socket that answers what `restart` asks, recording each call. */
async function fakePodman(restartError: string | undefined): Promise<{ socket: string; calls: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "stepwise-fake-podman-"));
  const socket = join(dir, "podman.sock");
  const calls: string[] = [];
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0]!;
    calls.push(`${request.method} ${path}`);
    if (path.endsWith("/containers/json")) {
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify([{ Id: "c1", Names: ["stepwise-demo-web"], Labels: { [Label.Site]: "demo", [Label.Kind]: "service", [Label.Resource]: "web" }, State: "running", Image: "x", StartedAt: 0, Ports: null }]));
    } else if (path.endsWith("/restart") && restartError) {
      response.statusCode = 500;
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify({ message: restartError }));
    } else {
      response.statusCode = 204;
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, calls };
}

function sessionOn(socket: string): PodmanSession {
  return new PodmanSession({ api: new PodmanApi(socket), names: new SiteNames("demo"), settings: DEFAULT_SETTINGS, siteDir: tmpdir(), log, signal: new AbortController().signal });
}

describe("PodmanSession.restart", () => {
  it("starts the container again when the restart lost Podman 4.3's image-mount race", async () => {
    const race = "crun: error mounting /var/lib/containers/storage/overlay/x/merged: no such file or directory";
    const podman = await fakePodman(race);
    expect(await sessionOn(podman.socket).restart("web")).toEqual(["stepwise-demo-web"]);
    expect(podman.calls.filter((c) => c.startsWith("POST"))).toEqual(["POST /v4.0.0/libpod/containers/stepwise-demo-web/restart", "POST /v4.0.0/libpod/containers/stepwise-demo-web/start"]);
  });

  it("reports any other restart failure with the podman command that shows it", async () => {
    const podman = await fakePodman("container is paused");
    await expect(sessionOn(podman.socket).restart("web")).rejects.toMatchObject({ message: expect.stringContaining("container is paused"), hint: expect.stringContaining("podman restart stepwise-demo-web") });
  });
});
