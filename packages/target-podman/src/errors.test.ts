import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PodmanErrorCode, podmanErrors } from "./errors.js";

const samples: { [K in keyof typeof podmanErrors]: Parameters<(typeof podmanErrors)[K]> } = {
  api: ["create the network", { statusCode: 500, message: "boom" }],
  containerFailed: ["demo-web", "exited with code 1", ""],
  containerNotFound: ["demo-web", "web"],
  hostUnsupported: ["create the network", { problem: "iptables is missing", hint: "apt-get install -y iptables" } as never, { message: "exit status 1" }],
  imageMissing: ["nginx:1", "pull failed", "podman pull nginx:1"],
  jobFailed: ["demo-migrate", "exited with code 2", "last line"],
  kindUnsupported: ["objectStore"],
  portInUse: ["start container demo-web", "127.0.0.1:8080", { statusCode: 500, message: "cannot listen on the TCP port: listen tcp4 127.0.0.1:8080: bind: address already in use" }],
  secretMissing: ["smtp_password", "email"],
  serviceNotRunning: ["web", "demo"],
  specInvalid: ["service web", "bad env name"],
  targetMissing: [["/run/podman/podman.sock"]],
  unreachable: ["/run/podman/podman.sock", "podman.socket"],
};

describe("target-podman error codes", () => {
  it("each code has a one-line JSDoc naming its exit code, and every factory's error has a listed code and the documented exit code", () => {
    const source = readFileSync(new URL("./errors.ts", import.meta.url), "utf8");
    const docs = new Map([...source.matchAll(/\/\*\* (.+\. Exit (\d+)\.) \*\/\n\s+(\w+): /g)].map((m) => [m[3]!, Number(m[2])]));
    expect([...docs.keys()]).toEqual(Object.keys(PodmanErrorCode));
    const keyOf = new Map(Object.entries(PodmanErrorCode).map(([key, code]) => [code as string, key]));
    expect(Object.keys(samples).sort()).toEqual(Object.keys(podmanErrors).sort());
    for (const [name, args] of Object.entries(samples)) {
      const error = (podmanErrors[name as keyof typeof podmanErrors] as (...a: unknown[]) => { code: string; exitCode: number })(...args);
      expect(keyOf.has(error.code), `${name} returns ${error.code}`).toBe(true);
      expect(error.exitCode, name).toBe(docs.get(keyOf.get(error.code)!));
    }
  });
});

describe("apiFailure", () => {
  it("reads a taken host port as exit 2 naming the address and how to find its holder", async () => {
    const { apiFailure, PodmanApiError } = await import("./podman-api.js");
    const error = apiFailure("start container stepwise-demo-web", new PodmanApiError("cannot listen on the TCP port: listen tcp4 127.0.0.1:8080: bind: address already in use", 500), "podman start x");
    expect(error).toMatchObject({
      code: "PODMAN_PORT_IN_USE",
      exitCode: 2,
      message: expect.stringMatching(/^Host port 127\.0\.0\.1:8080 is already in use by another process, so Podman could not start container stepwise-demo-web/),
      hint: expect.stringContaining("ss -ltnp 'sport = :8080'"),
    });
    // Anything else keeps the generic API error and the caller's hint.
    expect(apiFailure("start container x", new PodmanApiError("no such image", 500), "podman start x")).toMatchObject({ code: "PODMAN_API_ERROR", hint: "podman start x" });
  });
});
