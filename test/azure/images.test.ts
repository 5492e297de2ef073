/**
 * Images on Azure: a service with `build:` is built with Podman (the podman target's build, same
 * identity and tag) and pushed to the site's registry — here Debian's docker-registry over TLS,
 * which the local Resource Manager names as the registry's loginServer — with the deploying
 * identity's own credentials: its Entra token exchanged at the registry's token service for a
 * refresh token (as `az acr login` does), which reaches Podman only in the push request's header.
 * The registry's admin user stays disabled.
 * Needs the tests' Podman service (STEPWISE_TEST_PODMAN_SOCKET, scripts/podman/start.sh) and the
 * offline base image (scripts/images/build.sh busybox).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { TEST_REGISTRY, armHarness, grepBodies, writes, type ArmEnvironment } from "./harness.js";

const podman = process.env.STEPWISE_TEST_PODMAN_SOCKET;
const tail = (p: string) => p.split("/providers/").slice(1).join("/providers/");

const services = (registry: string) => `    names:
      registry: ${registry}
services:
  web:
    build:
      context: ./app
      args:
        GREETING: hello
    ports: ["8080:8080"]
`;

/** GET over TLS trusting the harness certificate: status and text. */
function get(url: string, env: ArmEnvironment, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(env.caFile, "utf8"), headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The tags of `repository` in the local registry (a pull token for the admin user, then the tag list). */
async function registryTags(env: ArmEnvironment, repository: string): Promise<string[]> {
  const password = readFileSync(env.registry.passwordFile, "utf8").trim();
  const realm = new URL("/oauth2/token", env.armUrl);
  realm.searchParams.set("service", env.registry.loginServer);
  realm.searchParams.set("scope", `repository:${repository}:pull`);
  const token = await get(realm.href, env, { authorization: `Basic ${Buffer.from(`${TEST_REGISTRY}:${password}`).toString("base64")}` });
  expect(token.status, token.text).toBe(200);
  const tags = await get(`https://${env.registry.loginServer}/v2/${repository}/tags/list`, env, { authorization: `Bearer ${(JSON.parse(token.text) as { token: string }).token}` });
  return tags.status === 200 ? ((JSON.parse(tags.text) as { tags: string[] | null }).tags ?? []) : [];
}

let site: AzureSite;
let env: ArmEnvironment;

describe.skipIf(!podman)("azure: images built with Podman and pushed to the registry", () => {
  beforeAll(async () => {
    assertBuilt();
    env = await armHarness();
    site = await makeAzureSite("img");
    mkdirSync(path.join(site.dir, "app"));
    writeFileSync(path.join(site.dir, "app/Containerfile"), "FROM localhost/stepwise/base-busybox:latest\nARG GREETING\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
    writeFileSync(path.join(site.dir, "app/index.html"), "one\n");
    site.yaml(services(TEST_REGISTRY));
  });

  it("a cold deploy builds the image, pushes it under the podman target's tag and runs the app from the registry with the site's identity", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const put = writes(log).find((e) => e.method === "PUT" && e.path.endsWith("/containerApps/web"))!;
    const body = JSON.parse(put.requestBody);
    const image = String(body.properties.template.containers[0].image);
    // Same repository and tag as the podman target's local image: localhost/stepwise-img/web:<identity>.
    expect(image).toMatch(new RegExp(`^${env.registry.loginServer.replace(/\./g, "\\.")}/stepwise-img/web:[0-9a-f]{16}$`));
    const identityId = String(site.state().steps["azure:identity"]!.outputs!.id);
    expect(body.properties.configuration.registries).toEqual([{ server: env.registry.loginServer, identity: identityId }]);
    expect(await registryTags(env, "stepwise-img/web")).toEqual([image.split(":").at(-1)]);
    expect(site.state().steps["service:web"]!.outputs!.image).toBe(image);
    // No admin user: the registry is created with it off and nothing asks for its password.
    const registry = log.find((e) => e.method === "PUT" && e.path.endsWith(`/registries/${TEST_REGISTRY}`))!;
    expect(JSON.parse(registry.requestBody).properties.adminUserEnabled).toBe(false);
    expect(log.filter((e) => e.path.endsWith("/listCredentials"))).toEqual([]);
    // The push went through the token exchange: Entra token -> refresh token -> a push token for
    // this repository, asked for by Podman as the token user.
    const tokens = await site.control.registryLog();
    expect(tokens.log.filter((e) => e.path === "/oauth2/exchange" && e.status === 200).length).toBeGreaterThan(0);
    const push = tokens.log.filter((e) => e.path === "/oauth2/token" && e.scope.some((s) => s.startsWith("repository:stepwise-img/web:")));
    expect(push.some((e) => e.status === 200 && e.user === "00000000-0000-0000-0000-000000000000" && e.scope.some((s) => s.includes("push")))).toBe(true);
    // The refresh tokens reach neither Resource Manager, the output nor state.
    const password = readFileSync(env.registry.passwordFile, "utf8").trim();
    for (const secret of [...tokens.issued, password]) {
      expect(grepBodies(log, secret)).toEqual([]);
      expect(deploy.stdout + deploy.stderr + JSON.stringify(site.state())).not.toContain(secret);
    }
  });

  it("a second deploy neither builds nor pushes nor writes", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const after = (await site.control.log()).slice(before);
    expect(writes(after)).toEqual([]);
    expect(deploy.stdout + deploy.stderr).not.toMatch(/pushing image|building image/);
  });

  it("a changed file in the context pushes a new tag and rolls the app onto it", async () => {
    const old = String(site.state().steps["service:web"]!.outputs!.image);
    writeFileSync(path.join(site.dir, "app/index.html"), "two\n");
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before));
    expect(put.map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual(["PUT Microsoft.App/containerApps/web 200"]);
    const image = String(JSON.parse(put[0]!.requestBody).properties.template.containers[0].image);
    expect(image).not.toBe(old);
    expect((await registryTags(env, "stepwise-img/web")).sort()).toEqual([old, image].map((i) => i.split(":").at(-1)).sort());
  });

  it("a push the registry refuses (no AcrPush on the repository) fails the step (exit 1) naming the registry and the role, without a token", async () => {
    const other = await makeAzureSite("imgbad");
    mkdirSync(path.join(other.dir, "app"));
    writeFileSync(path.join(other.dir, "app/Containerfile"), readFileSync(path.join(site.dir, "app/Containerfile")));
    writeFileSync(path.join(other.dir, "app/index.html"), "bad\n");
    other.yaml(services(TEST_REGISTRY));
    // The identity's token grants pull only below this site's repositories.
    await other.control.denyRegistryPush("stepwise-imgbad/");
    const deploy = await other.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(1);
    expect(other.state().steps["service:web"]!.error!.code).toBe("AZURE_IMAGE_PUSH_FAILED");
    expect(deploy.stderr).toMatch(/unauthorized|denied/i);
    expect(deploy.stderr).toContain(TEST_REGISTRY);
    expect(deploy.stderr).toContain("AcrPush");
    expect(deploy.stderr).not.toMatch(/^\s+at /m);
    const { issued } = await other.control.registryLog();
    for (const token of issued) expect(deploy.stdout + deploy.stderr + JSON.stringify(other.state())).not.toContain(token);
  });
});
