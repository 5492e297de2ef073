import { describe, expect, it } from "vitest";
import { StepwiseError } from "@stepwise/core";
import { registryTokenScope } from "./arm-client.js";
import { ACR_TOKEN_USER, registryLogin } from "./images.js";

const ENTRA = "entra-token-value-1234";
const REFRESH = "acr-refresh-token-5678";
const settings = { names: { registry: "crdemo" }, tenantId: "tenant-1" } as never;

type Answer = { status: number; headers?: Record<string, string>; text?: string };

/** A fake of the two ArmClient calls registryLogin makes; records what was sent. */
function fakeArm(answers: { challenge: Answer | Error; exchange?: Answer }) {
  const sent: { url: string; method: string; headers?: Record<string, string>; body?: string }[] = [];
  const scopes: string[] = [];
  const arm = {
    endpoint: "https://management.azure.com",
    async token(scope: string) {
      scopes.push(scope);
      return ENTRA;
    },
    async raw(url: string, init: { method: "GET" | "POST"; headers?: Record<string, string>; body?: string; signal: AbortSignal }) {
      sent.push({ url, method: init.method, headers: init.headers, body: init.body });
      const answer = init.method === "GET" ? answers.challenge : answers.exchange!;
      if (answer instanceof Error) throw answer;
      const headers = new Map(Object.entries(answer.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      return { status: answer.status, headers: { get: (name: string) => headers.get(name.toLowerCase()) }, text: answer.text ?? "" };
    },
  };
  return { arm, sent, scopes };
}

const bearer = { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="https://crdemo.azurecr.io/oauth2/token",service="crdemo.azurecr.io"' } };
const login = (arm: ReturnType<typeof fakeArm>["arm"]) => registryLogin(arm, settings, "service:web", "crdemo.azurecr.io", new AbortController().signal);

async function failure(promise: Promise<unknown>): Promise<StepwiseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StepwiseError);
  return error as StepwiseError;
}

describe("registryLogin (ACR's Microsoft Entra token exchange)", () => {
  it("exchanges the Entra token at the challenge's realm and answers the token user with the refresh token", async () => {
    const { arm, sent, scopes } = fakeArm({ challenge: bearer, exchange: { status: 200, text: JSON.stringify({ refresh_token: REFRESH }) } });
    expect(await login(arm)).toEqual({ username: ACR_TOKEN_USER, password: REFRESH });
    // On public Azure the token is for the registry's audience, not Resource Manager's.
    expect(scopes).toEqual(["https://containerregistry.azure.net/.default"]);
    expect(sent.map((s) => `${s.method} ${s.url}`)).toEqual(["GET https://crdemo.azurecr.io/v2/", "POST https://crdemo.azurecr.io/oauth2/exchange"]);
    expect(sent[1]!.headers).toEqual({ "content-type": "application/x-www-form-urlencoded" });
    expect(Object.fromEntries(new URLSearchParams(sent[1]!.body))).toEqual({ grant_type: "access_token", service: "crdemo.azurecr.io", access_token: ENTRA, tenant: "tenant-1" });
  });

  it("needs no credentials when the registry answers /v2/ without a challenge", async () => {
    const { arm, sent } = fakeArm({ challenge: { status: 200 } });
    expect(await login(arm)).toEqual({});
    expect(sent).toHaveLength(1);
  });

  it("refuses a registry without a Bearer challenge (no Entra login), naming the registry", async () => {
    const { arm } = fakeArm({ challenge: { status: 401, headers: { "www-authenticate": 'Basic realm="registry"' } } });
    const error = await failure(login(arm));
    expect(error.code).toBe("AZURE_IMAGE_PUSH_FAILED");
    expect(error.message).toMatch(/crdemo.*does not support Microsoft Entra login/s);
  });

  it("a refused exchange names the AcrPush role and never the tokens", async () => {
    for (const exchange of [{ status: 401, text: '{"errors":[{"code":"UNAUTHORIZED"}]}' }, { status: 200, text: "not json" }, { status: 200, text: "{}" }]) {
      const { arm } = fakeArm({ challenge: bearer, exchange });
      const error = await failure(login(arm));
      expect(error.message).toContain("AcrPush");
      expect(`${error.message} ${error.hint}`).toContain("crdemo");
      expect(`${error.message} ${error.hint}`).not.toContain(ENTRA);
    }
  });

  it("an unreachable registry is a clear failure, and an abort is not turned into one", async () => {
    const { arm } = fakeArm({ challenge: new Error("getaddrinfo ENOTFOUND crdemo.azurecr.io") });
    expect((await failure(login(arm))).message).toMatch(/https:\/\/crdemo\.azurecr\.io\/v2\/ did not answer: getaddrinfo ENOTFOUND/);
    const controller = new AbortController();
    controller.abort();
    const aborted = await registryLogin(arm, settings, "service:web", "crdemo.azurecr.io", controller.signal).catch((e: unknown) => e);
    expect(aborted).not.toBeInstanceOf(StepwiseError);
  });

  it("the registry audience on public Azure, the Resource Manager audience of any other endpoint", () => {
    expect(registryTokenScope("https://management.azure.com")).toBe("https://containerregistry.azure.net/.default");
    expect(registryTokenScope("https://management.usgovcloudapi.net/")).toBe("https://management.usgovcloudapi.net/.default");
    expect(registryTokenScope("https://127.0.0.1:8443")).toBe("https://127.0.0.1:8443/.default");
  });

  it("a challenge naming a token service on another host gets no token", async () => {
    const { arm, sent, scopes } = fakeArm({ challenge: { status: 401, headers: { "www-authenticate": 'Bearer realm="https://collector.example.net/oauth2/token",service="crdemo.azurecr.io"' } } });
    expect((await failure(login(arm))).message).toMatch(/another host \(collector\.example\.net\)/);
    expect([sent.length, scopes.length]).toEqual([1, 0]);
  });

  it("a token exchange that does not answer is a clear failure naming the registry", async () => {
    const { arm } = fakeArm({ challenge: bearer });
    arm.raw = (async (url: string, init: { method: string }) => {
      if (init.method === "POST") throw new Error("socket hang up");
      return { status: 401, headers: { get: (name: string) => (name.toLowerCase() === "www-authenticate" ? bearer.headers["WWW-Authenticate"] : undefined) }, text: "" };
    }) as never;
    const error = await failure(login(arm));
    expect(error.message).toMatch(/crdemo.*token exchange \(https:\/\/crdemo\.azurecr\.io\/oauth2\/exchange\) did not answer: socket hang up/s);
    expect(error.message).not.toContain(ENTRA);
  });

  it("an invalid realm in the challenge is refused before any token is asked for", async () => {
    const { arm, sent } = fakeArm({ challenge: { status: 401, headers: { "www-authenticate": 'Bearer realm="not a url",service="crdemo.azurecr.io"' } } });
    expect((await failure(login(arm))).message).toMatch(/invalid realm/);
    expect(sent).toHaveLength(1);
    const plain = fakeArm({ challenge: { status: 401, headers: { "www-authenticate": 'Bearer realm="http://crdemo.azurecr.io/oauth2/token",service="crdemo.azurecr.io"' } } });
    expect((await failure(login(plain.arm))).message).toMatch(/not HTTPS/);
    expect(plain.sent).toHaveLength(1);
  });
});
