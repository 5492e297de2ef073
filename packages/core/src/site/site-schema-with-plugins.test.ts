import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import type { PluginDefinition } from "../contracts.js";
import { siteSchemaWithPlugins } from "./site-schema-with-plugins.js";

const mail: PluginDefinition = {
  meta: { name: "mail-plugin", version: "1.0.0" },
  steps: [
    {
      name: "mail",
      description: "d",
      config: {
        "mail.provider": { description: "Who sends mail", choices: ["smtp", "none"], default: "none" },
        "mail.smtp.port": { description: "SMTP port", type: "integer", default: 587, presets: { "dev-mode": 1025 } },
        "mail.tls": { description: "Use TLS", type: "boolean" },
        "mail.to": { description: "Recipients", type: "string[]" },
      },
      async run() {},
    },
  ],
  targets: [{ name: "t", description: "d", config: { "t.socket": { description: "Socket", connection: true } } } as never],
};

function validator() {
  return new Ajv({ allErrors: true, strict: false }).compile(siteSchemaWithPlugins([{ id: "mail-plugin@1.0.0", definition: mail }]));
}
const site = (config: unknown) => ({ name: "s", plugins: ["mail-plugin"], config });

describe("siteSchemaWithPlugins", () => {
  it("describes each plugin key nested and by dot path, with type, choices, default and owner", () => {
    const config = (siteSchemaWithPlugins([{ id: "mail-plugin@1.0.0", definition: mail }]).properties as any).config;
    expect(config.properties.mail.properties.smtp.properties.port).toEqual({
      type: "integer",
      default: 587,
      description: "SMTP port (step mail, mail-plugin@1.0.0; per preset dev-mode: 1025)",
    });
    expect(config.properties["mail.provider"]).toMatchObject({ enum: ["smtp", "none"], default: "none" });
    expect(config.properties.t.properties.socket.description).toBe("Socket (target t, mail-plugin@1.0.0)");
  });

  it("accepts what the site file accepts and rejects a wrong type or choice under a plugin key", () => {
    const validate = validator();
    expect(validate(site({ mail: { provider: "smtp", smtp: { port: 25 }, tls: true, to: ["a@b.c"] }, other: { anything: 1 } }))).toBe(true);
    expect(validate(site({ "mail.provider": "none", mail: null }))).toBe(true);
    expect(validate(site(null))).toBe(true);
    expect(validate(site({ mail: { provider: "carrier-pigeon" } }))).toBe(false);
    expect(validate.errors![0]).toMatchObject({ instancePath: "/config/mail/provider", keyword: "enum" });
    expect(validate(site({ mail: { smtp: { port: "25" } } }))).toBe(false);
    expect(validate(site({ "mail.tls": "yes" }))).toBe(false);
    expect(validate(site({ mail: { to: "a@b.c" } }))).toBe(false);
  });

  it("is core's schema when no plugin is given (still rejecting unknown top-level keys)", () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(siteSchemaWithPlugins([]));
    expect(validate({ name: "s", plugins: [], config: { x: 1 } })).toBe(true);
    expect(validate({ name: "s", plugins: [], confg: {} })).toBe(false);
  });
});
