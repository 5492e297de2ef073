/**
 * `stepwise logs SERVICE` on Azure: the Container Apps log stream, as `az containerapp logs show`
 * reads it (the app's ready revision and replica from Resource Manager, the app's log-stream token
 * from `getAuthtoken`, the stream from its eventStreamEndpoint host with that token). Through the
 * built CLI against the local Resource Manager, whose log stream serves lines the test puts.
 */
import { readFileSync, readdirSync } from "node:fs";
import { Agent, request } from "node:https";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { collect } from "../e2e/cli-harness.js";
import { deployedAzureSite, type AzureSite } from "./azure-site.js";
import { writes } from "./harness.js";

// A public app, an internal one and a job: each is read its own way by `logs`.
const siteYaml = `services:
  worker:
    image: mcr.microsoft.com/k8se/quickstart:latest
    command: ["--queue", "mail"]
  web:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ports: ["8080:80"]
jobs:
  migrate:
    image: mcr.microsoft.com/k8se/quickstart-jobs:latest
    command: ["migrate", "--up"]
`;

let site: AzureSite;
const appId = (app: string) => `/subscriptions/${site.control.subscription}/resourceGroups/rg-stepwise-logs/providers/Microsoft.App/containerApps/${app}`;
const tail = (p: string) => p.split("/containerApps/")[1]?.replace(/--[0-9a-f]{7}/g, "--REV").replace(/--REV-[0-9a-f]{9}-[0-9a-f]{5}/, "--REV-REPLICA") ?? p;
const lines = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix} line ${i + 1}`);

/** Every log-stream token the local server's getAuthtoken answered for this site (from its request log). */
async function issuedTokens(): Promise<string[]> {
  return (await site.control.log()).filter((e) => e.path.endsWith("/getAuthtoken") && e.status === 200).map((e) => String((JSON.parse(e.responseBody) as { properties: { token: string } }).properties.token));
}

/** Every file under the site's .stepwise directory, as text. */
function stateFiles(dir: string): string {
  const root = path.join(dir, ".stepwise");
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), "latin1"))
    .join("\n");
}

/** A GET to the local server (its certificate trusted), as a client of the log stream. */
function getTls(pathAndQuery: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(pathAndQuery, site.control.env.armUrl), { agent: new Agent({ ca: readFileSync(site.control.env.caFile, "utf8") }), headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("azure: logs", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await deployedAzureSite("logs", siteYaml);
    await site.control.appLog(appId("web"), lines(8, "web"));
    await site.control.appLog(appId("worker"), lines(2, "worker"));
  });

  it("prints the last N lines of the app's container, reading only (the one POST is the getAuthtoken action)", async () => {
    const before = (await site.control.log()).length;
    const logs = await site.cli(["logs", "web", "--tail", "3"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe("web line 6\nweb line 7\nweb line 8\n");
    const log = (await site.control.log()).slice(before);
    expect(log.map((e) => `${e.method} ${tail(e.path)}${e.query && e.path.startsWith("/_logstream/") ? `?${e.query}` : ""} ${e.status}`)).toEqual([
      "GET web 200",
      "GET web/revisions/web--REV/replicas 200",
      "POST web/getAuthtoken 200",
      "GET web/revisions/web--REV/replicas/web--REV-REPLICA/containers/web/logstream?tailLines=3&follow=false&output=text 200",
    ]);
    // No PUT, PATCH or DELETE: getAuthtoken is an action that issues a token and changes nothing.
    expect(writes(log).map((e) => `${e.method} ${tail(e.path)}`)).toEqual(["POST web/getAuthtoken"]);
    // Without --tail: the stream's 300 lines (az's default and limit); the other app's lines stay its own.
    const all = await site.cli(["logs", "worker"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe("worker line 1\nworker line 2\n");
    expect((await site.control.log()).at(-1)!.query).toBe("tailLines=300&follow=false&output=text");
    // More than 300 (the local stream, as az, refuses tailLines above it): 300 asked.
    const more = await site.cli(["logs", "worker", "--tail", "1000"]);
    expect([more.code, more.stdout], more.stderr).toEqual([0, "worker line 1\nworker line 2\n"]);
    expect((await site.control.log()).at(-1)!.query).toBe("tailLines=300&follow=false&output=text");
  });

  it("follows: a line written later arrives, and Ctrl-C ends it cleanly", async () => {
    const child = site.start(["logs", "web", "--follow", "--tail", "1"]);
    const done = collect(child);
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const until = async (what: () => boolean, label: string) => {
      for (const started = Date.now(); !what(); ) {
        if (Date.now() - started > 20_000) throw new Error(`timed out waiting for ${label}; stdout so far: ${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await until(() => stdout.includes("web line 8\n"), "the tail line");
    expect((await site.control.appLog(appId("web"), ["web written later"])).followers).toBe(1);
    await until(() => stdout.includes("web written later\n"), "the later line");
    child.kill("SIGINT");
    const result = await done;
    expect([0, 130], result.stderr).toContain(result.code);
    expect(result.stdout).toBe("web line 8\nweb written later\n");
    expect(result.stderr).not.toMatch(/error/i);
    // The server saw the follow end when the CLI went.
    let followers = 1;
    for (const started = Date.now(); followers > 0 && Date.now() - started < 5_000; await new Promise((resolve) => setTimeout(resolve, 50))) followers = (await site.control.appLog(appId("web"), [])).followers;
    expect(followers).toBe(0);
  });

  it("a job is not streamed: AZURE_LOGS_UNAVAILABLE names the workspace and the query of its newest execution", async () => {
    const before = (await site.control.log()).length;
    const logs = await site.cli(["logs", "migrate", "--json"]);
    expect(logs.code).toBe(2);
    const error = (JSON.parse(logs.stdout) as { error: { code: string; message: string; hint: string; details: { workspace: string; query: string } } }).error;
    expect(error.code).toBe("AZURE_LOGS_UNAVAILABLE");
    expect(error.details.workspace).toMatch(/\/resourceGroups\/rg-stepwise-logs\/providers\/Microsoft\.OperationalInsights\/workspaces\/log-stepwise-logs$/);
    expect(error.details.query).toMatch(/^ContainerAppConsoleLogs_CL \| where ContainerGroupName_s startswith 'migrate-[0-9a-f]{7}'/);
    expect(error.message).toContain(error.details.query);
    expect(error.hint).toContain("az monitor log-analytics query");
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });

  it("an unknown service is exit 2 naming the site's apps", async () => {
    const logs = await site.cli(["logs", "nope"]);
    expect(logs.code).toBe(2);
    expect(logs.stderr).toContain("Site logs has no Container App for service nope (it has: web, worker)");
    expect(logs.stderr).toContain("stepwise deploy");
  });

  it("the log-stream token is never printed, logged or stored", async () => {
    const runs = [await site.cli(["logs", "web", "--tail", "2", "--verbose"]), await site.cli(["logs", "web", "--json"]), await site.cli(["status", "--json"])];
    const tokens = await issuedTokens();
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    const printed = runs.map((r) => r.stdout + r.stderr).join("\n") + stateFiles(site.dir);
    for (const token of tokens) expect(printed).not.toContain(token);
    // The stream takes only such a token, and only for its own app.
    const web = (await site.control.log()).filter((e) => e.path.startsWith("/_logstream/") && e.path.includes("/containerApps/web/")).at(-1)!;
    const get = (streamPath: string, token?: string) => getTls(`${streamPath}?tailLines=1`, token ? { authorization: `Bearer ${token}` } : {});
    expect((await get(web.path, tokens.at(-1))).status).toBe(200);
    expect((await get(web.path)).status).toBe(401);
    expect((await get(web.path.replace("/containerApps/web/", "/containerApps/worker/"), tokens.at(-1))).status).toBe(401);
  });

  it("redacts the site's secret values from the lines; a passing 503 is retried; a refused stream (403) is AZURE_LOGS_UNAVAILABLE (exit 1) without the token", async () => {
    const secretPut = (await site.control.log()).find((e) => e.method === "PUT" && /\/secrets\/app-key/.test(e.path))!;
    const value = (await site.control.resource(secretPut.path))!.secretValue!;
    await site.control.appLog(appId("web"), [`connecting with key ${value} now`]);
    const logs = await site.cli(["logs", "web", "--tail", "1"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^connecting with key \S+ now\n$/);
    expect(logs.stdout).not.toContain(value);

    // A passing 503 is retried by the SDK's policies: the lines arrive.
    await site.control.fault({ method: "GET", pathIncludes: "/logstream", status: 503, count: 1 });
    const retried = await site.cli(["logs", "web", "--tail", "1"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/^connecting with key \S+ now\n$/);

    await site.control.fault({ method: "GET", pathIncludes: "/logstream", status: 403, count: 1 });
    const refused = await site.cli(["logs", "web", "--json"]);
    expect(refused.code).toBe(1);
    const error = (JSON.parse(refused.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe("AZURE_LOGS_UNAVAILABLE");
    expect(error.message).toContain("The log stream of Container App web (service web) answered HTTP 403");
    expect(error.hint).toContain("az containerapp logs show --name web --resource-group rg-stepwise-logs");
    for (const token of await issuedTokens()) expect(refused.stdout + refused.stderr).not.toContain(token);
  });

  it("an app without a ready revision: AZURE_LOGS_UNAVAILABLE telling to deploy", async () => {
    site.yaml(siteYaml.replace("jobs:", "  late:\n    image: mcr.microsoft.com/k8se/quickstart:latest\njobs:"));
    await site.control.fault({ method: "PUT", pathIncludes: "/containerApps/late", lroFail: true, count: 1 });
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(1);
    const before = (await site.control.log()).length;
    const logs = await site.cli(["logs", "late", "--json"]);
    expect(logs.code).toBe(2);
    const error = (JSON.parse(logs.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error).toMatchObject({ code: "AZURE_LOGS_UNAVAILABLE", message: "Service late has no logs to stream: Container App late has no ready revision (provisioningState Failed)." });
    expect(error.hint).toContain("stepwise deploy");
    // Nothing was asked of the app beyond reading it: no token was issued for it.
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });
});
