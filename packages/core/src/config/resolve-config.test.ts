import { describe, expect, it } from "vitest";
import type { ConfigKeySpec } from "../contracts.js";
import { configEnvName, resolveConfig, type OwnedConfigKey } from "./resolve-config.js";

const owned = (key: string, spec: ConfigKeySpec): OwnedConfigKey => ({ key, spec, owner: "email" });
const file = (entries: Record<string, unknown>) => new Map(Object.entries(entries).map(([k, v]) => [k, { value: v as never, location: "stepwise.yaml:3" }]));

describe("config resolution", () => {
  const port = owned("email.smtp.port", { description: "port", type: "integer", default: 25, presets: { "dev-mode": 1025 }, env: "SMTP_PORT" });

  it("applies default < preset < file < environment < --set", () => {
    const base = { owned: [port], file: new Map(), env: {}, sets: [] as string[] };
    expect(resolveConfig({ ...base, preset: "default" }).get("email.smtp.port")).toBe(25);
    expect(resolveConfig({ ...base, preset: "dev-mode" }).get("email.smtp.port")).toBe(1025);
    const withFile = { ...base, preset: "dev-mode" as const, file: file({ "email.smtp.port": 587 }) };
    expect(resolveConfig(withFile).get("email.smtp.port")).toBe(587);
    const withEnv = { ...withFile, env: { SMTP_PORT: "2525" } };
    expect(resolveConfig(withEnv).get("email.smtp.port")).toBe(2525);
    expect(resolveConfig(withEnv).source("email.smtp.port")?.label).toBe("env SMTP_PORT");
    const withSet = { ...withEnv, sets: ["email.smtp.port=465"] };
    expect(resolveConfig(withSet).get("email.smtp.port")).toBe(465);
    expect(resolveConfig(withSet).source("email.smtp.port")?.kind).toBe("set");
  });

  it("reads the generic STEPWISE_CONFIG_ variable, the declared one winning", () => {
    expect(configEnvName("email.smtp.port")).toBe("STEPWISE_CONFIG_EMAIL__SMTP__PORT");
    const config = resolveConfig({ owned: [port], preset: "default", file: new Map(), env: { STEPWISE_CONFIG_EMAIL__SMTP__PORT: "1", SMTP_PORT: "2" }, sets: [] });
    expect(config.get("email.smtp.port")).toBe(2);
  });

  it("coerces env and --set strings by type, and collects every invalid value with its source", () => {
    const flag = owned("email.tls", { description: "tls", type: "boolean" });
    const list = owned("email.cc", { description: "cc", type: "string[]" });
    const choice = owned("email.provider", { description: "provider", choices: ["smtp", "ses", "none"] });
    const config = resolveConfig({
      owned: [port, flag, list, choice],
      preset: "default",
      file: file({ "email.provider": "carrier-pigeon" }),
      env: { SMTP_PORT: "twenty" },
      sets: ["email.tls=yes", "email.cc=a@x.io, b@x.io", "broken"],
    });
    expect(config.get("email.tls")).toBe(true);
    expect(config.get("email.cc")).toEqual(["a@x.io", "b@x.io"]);
    expect(config.problems).toEqual(
      expect.arrayContaining([
        { key: "email.smtp.port", source: "env SMTP_PORT", message: 'expected an integer, got "twenty"' },
        expect.objectContaining({ key: "email.provider", source: "stepwise.yaml:3", message: expect.stringContaining('must be one of "smtp", "ses", "none"') }),
        expect.objectContaining({ key: "broken", source: "--set" }),
      ]),
    );
  });

  it("lists required keys without a value, skipping keys whose `when` is false", () => {
    const provider = owned("email.provider", { description: "provider", default: "none" });
    const host = owned("email.smtp.host", { description: "host", required: true, when: (c) => c.get("email.provider") === "smtp" });
    const from = owned("email.from", { description: "from", required: true, validate: (v) => (String(v).includes("@") ? undefined : "not an e-mail address") });
    const none = resolveConfig({ owned: [provider, host, from], preset: "default", file: new Map(), env: {}, sets: [] });
    expect(none.missing.map((m) => m.key)).toEqual(["email.from"]);
    expect(none.isInactive("email.smtp.host")).toBe(true);
    const smtp = resolveConfig({ owned: [provider, host, from], preset: "default", file: new Map(), env: {}, sets: ["email.provider=smtp", "email.from=nobody"] });
    expect(smtp.missing.map((m) => m.key)).toEqual(["email.smtp.host"]);
    expect(smtp.problems).toEqual([{ key: "email.from", source: "--set", message: "not an e-mail address" }]);
  });
});
