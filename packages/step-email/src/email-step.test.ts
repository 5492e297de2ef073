import { describe, expect, it } from "vitest";
import { resolveConfig } from "@stepwise/core/engine";
import createPlugin, { emailStep } from "./index.js";

const plugin = createPlugin({});
import { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "@stepwise/core/testing";
import pkg from "../package.json" with { type: "json" };

const smtpProduction = {
  "email.from": "noreply@example.com",
  "email.smtp.host": "smtp.example.com",
  "email.smtp.user": "mailer",
};

describe("@stepwise/step-email plugin", () => {
  it("is named and versioned after its package and holds the email step", () => {
    expect(plugin.meta).toEqual({ name: "@stepwise/step-email", version: pkg.version });
    expect(plugin.steps.map((step) => step.name)).toEqual(["email"]);
    expect(emailStep.required).toBe(true);
  });
});

describe("email config per preset", () => {
  it("default: SMTP on 587 with STARTTLS, asks for host, sender and password", () => {
    const config = resolveStepConfig(emailStep, "default");
    expect(config.get("email.provider")).toBe("smtp");
    expect(config.get("email.smtp.port")).toBe(587);
    expect(config.get("email.smtp.tls")).toBe("starttls");
    expect(config.get("email.catcher.enabled")).toBe(false);
    expect(configProblems(emailStep, "default")).toEqual(["email.from: missing", "email.smtp.host: missing"]);
    expect(activeSecrets(emailStep, "default", smtpProduction)).toEqual(["smtp_password"]);
  });

  it("dev-mode: plain SMTP to a local mail catcher, nothing to ask, no password", () => {
    const config = resolveStepConfig(emailStep, "dev-mode");
    expect(config.get("email.provider")).toBe("smtp");
    expect(config.get("email.smtp.host")).toBe("mailpit");
    expect(config.get("email.smtp.port")).toBe(1025);
    expect(config.get("email.smtp.tls")).toBe("none");
    expect(config.get("email.catcher.enabled")).toBe(true);
    expect(configProblems(emailStep, "dev-mode")).toEqual([]);
    expect(activeSecrets(emailStep, "dev-mode")).toEqual([]);
  });

  it("airgapped: no mail, so no mail keys or secrets apply", () => {
    expect(resolveStepConfig(emailStep, "airgapped").get("email.provider")).toBe("none");
    expect(configProblems(emailStep, "airgapped")).toEqual([]);
    expect(activeSecrets(emailStep, "airgapped")).toEqual([]);
  });

  it("ses: asks for region and both AWS keys, not SMTP settings", () => {
    const given = { "email.provider": "ses", "email.from": "noreply@example.com" };
    expect(configProblems(emailStep, "default", given)).toEqual(["email.ses.region: missing"]);
    expect(activeSecrets(emailStep, "default", given)).toEqual(["aws_access_key_id", "aws_secret_access_key"]);
  });

  it("reads MAIL_PROVIDER from the environment and only knows smtp, ses and none", () => {
    const spec = emailStep.config["email.provider"];
    expect(spec.env).toBe("MAIL_PROVIDER");
    expect(configProblems(emailStep, "default", { ...smtpProduction, "email.provider": "sendgrid" })).toEqual([
      'email.provider: must be one of "smtp", "ses", "none"',
    ]);
  });
});

describe("email config validation", () => {
  const problemsWith = (values: Record<string, string | number>) => configProblems(emailStep, "default", { ...smtpProduction, ...values });

  it.each([0, 65536, -25, 25.5])("refuses port %s", (port) => {
    expect(problemsWith({ "email.smtp.port": port })).toEqual([`email.smtp.port: must be a port number from 1 to 65535, got ${port}`]);
  });

  it.each([1, 25, 465, 65535])("accepts port %s", (port) => {
    expect(problemsWith({ "email.smtp.port": port })).toEqual([]);
  });

  it.each(["-smtp.example.com", "smtp_relay.example.com", "smtp..example.com", "a".repeat(64) + ".example.com", "smtp.example.com/25", "smtp example"])(
    "refuses host %s",
    (host) => {
      const [problem] = problemsWith({ "email.smtp.host": host });
      expect(problem).toMatch(/^email\.smtp\.host: must be a host name .*RFC 1123/);
      expect(problem).toContain(JSON.stringify(host));
    },
  );

  it.each(["mailpit", "smtp.example.com", "SMTP-1.Example.COM", "10.0.0.25", "::1", "smtp.example.com.", "1and1.example"])("accepts host %s", (host) => {
    expect(problemsWith({ "email.smtp.host": host })).toEqual([]);
  });

  it.each(["noreply", "noreply@", "@example.com", "no reply@example.com", "noreply@example..com", "noreply@-example.com", "a@b@example.com"])(
    "refuses sender %s",
    (address) => {
      expect(problemsWith({ "email.from": address })).toEqual([
        `email.from: must be an e-mail address like noreply@example.com, got ${JSON.stringify(address)}`,
      ]);
    },
  );

  it.each(["noreply@example.com", "first.last+tag@mail.example.co.uk", "ops@localhost"])("accepts sender %s", (address) => {
    expect(problemsWith({ "email.from": address })).toEqual([]);
  });

  it("refuses a malformed SES region", () => {
    expect(configProblems(emailStep, "default", { "email.provider": "ses", "email.from": "a@example.com", "email.ses.region": "Europe" })).toEqual([
      'email.ses.region: must be an AWS region code like eu-west-1, got "Europe"',
    ]);
  });
});

describe("email run", () => {
  it("smtp: returns the settings and the name of the password secret, never its value", async () => {
    const { ctx, ensured } = createFakeStepContext(emailStep, { config: smtpProduction, secrets: { smtp_password: "s3cret-Pa55" } });
    const outputs = await emailStep.run(ctx);
    expect(outputs).toEqual({
      provider: "smtp",
      from: "noreply@example.com",
      host: "smtp.example.com",
      port: 587,
      tls: "starttls",
      user: "mailer",
      passwordSecret: "smtp_password",
    });
    expect(JSON.stringify(outputs)).not.toContain("s3cret-Pa55");
    expect(ensured).toEqual([]);
  });

  it("smtp with a user but no password fails and names the secret, not a value", async () => {
    const { ctx } = createFakeStepContext(emailStep, { config: smtpProduction });
    await expect(emailStep.run(ctx)).rejects.toMatchObject({
      code: "SECRET_MISSING",
      message: 'email.smtp.user is "mailer" but secret smtp_password is not set.',
      hint: expect.stringContaining("stepwise secrets set smtp_password"),
    });
  });

  it("smtp without a user needs no password and says so when one is set anyway", async () => {
    const config = { "email.from": "noreply@example.com", "email.smtp.host": "relay.internal" };
    const { ctx, logs } = createFakeStepContext(emailStep, { config, secrets: { smtp_password: "unused-value" } });
    const outputs = await emailStep.run(ctx);
    expect(outputs).toMatchObject({ user: null, passwordSecret: null });
    expect(logs.map((l) => l.message).join("\n")).toContain("sent without authentication");
    expect(JSON.stringify(logs)).not.toContain("unused-value");
  });

  it("warns when port and TLS mode look swapped or a password would travel in clear text", async () => {
    const run = async (values: Record<string, string | number>) => {
      const { ctx, logs } = createFakeStepContext(emailStep, { config: { ...smtpProduction, ...values }, secrets: { smtp_password: "pw" } });
      await emailStep.run(ctx);
      return logs.filter((l) => l.level === "warn").map((l) => l.message);
    };
    expect(await run({ "email.smtp.port": 465 })).toEqual(["email.smtp.port 465 usually expects email.smtp.tls: tls, not starttls"]);
    expect(await run({ "email.smtp.port": 465, "email.smtp.tls": "tls" })).toEqual([]);
    expect(await run({ "email.smtp.tls": "none" })).toEqual(["the SMTP password travels unencrypted to smtp.example.com:587 (email.smtp.tls: none)"]);
  });

  it("refuses a bad value that reaches run, naming the key", async () => {
    const { ctx } = createFakeStepContext(emailStep, { config: { ...smtpProduction, "email.smtp.port": 70000 }, secrets: { smtp_password: "pw" } });
    await expect(emailStep.run(ctx)).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: "email.smtp.port must be a port number from 1 to 65535, got 70000",
    });
  });

  it("dev-mode: starts the mail catcher as the SMTP host on the SMTP port and publishes its web UI", async () => {
    const { ctx, ensured } = createFakeStepContext(emailStep, { preset: "dev-mode" });
    const outputs = await emailStep.run(ctx);
    expect(outputs).toEqual({
      provider: "smtp",
      from: "noreply@localhost",
      host: "mailpit",
      port: 1025,
      tls: "none",
      user: null,
      passwordSecret: null,
      catcherUrl: "http://localhost:8025",
    });
    expect(ensured).toEqual([
      {
        kind: "service",
        name: "mailpit",
        image: "docker.io/axllent/mailpit:v1.29.7",
        env: {
          MP_SMTP_BIND_ADDR: "0.0.0.0:1025",
          MP_UI_BIND_ADDR: "0.0.0.0:8025",
          MP_SMTP_AUTH_ACCEPT_ANY: "true",
          MP_SMTP_AUTH_ALLOW_INSECURE: "true",
        },
        ports: [{ host: 8025, container: 8025 }],
        healthcheck: { http: "/readyz", intervalSeconds: 5, retries: 12 },
      },
    ]);
  });

  it("refuses a mail catcher behind a dotted host name or with TLS", async () => {
    const dotted = createFakeStepContext(emailStep, { preset: "dev-mode", config: { "email.smtp.host": "mail.example.com" } });
    await expect(emailStep.run(dotted.ctx)).rejects.toThrow(/catcher's service name .*got "mail\.example\.com"/);
    const tls = createFakeStepContext(emailStep, { preset: "dev-mode", config: { "email.smtp.tls": "starttls" } });
    await expect(emailStep.run(tls.ctx)).rejects.toThrow("the mail catcher speaks plain SMTP; set email.smtp.tls to none (got starttls)");
    expect([...dotted.ensured, ...tls.ensured]).toEqual([]);
  });

  it("ses: returns the region endpoint and the names of both key secrets", async () => {
    const secrets = { aws_access_key_id: "AKIAEXAMPLEKEY123456", aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
    const config = { "email.provider": "ses", "email.from": "noreply@example.com", "email.ses.region": "eu-west-1" };
    const { ctx } = createFakeStepContext(emailStep, { config, secrets });
    const outputs = await emailStep.run(ctx);
    expect(outputs).toEqual({
      provider: "ses",
      from: "noreply@example.com",
      region: "eu-west-1",
      host: "email.eu-west-1.amazonaws.com",
      port: 443,
      tls: "tls",
      accessKeyIdSecret: "aws_access_key_id",
      secretAccessKeySecret: "aws_secret_access_key",
    });
    for (const value of Object.values(secrets)) expect(JSON.stringify(outputs)).not.toContain(value);
  });

  it("ses without keys lists every missing secret", async () => {
    const config = { "email.provider": "ses", "email.from": "noreply@example.com", "email.ses.region": "eu-west-1" };
    const { ctx } = createFakeStepContext(emailStep, { config, secrets: { aws_access_key_id: "AKIA" } });
    await expect(emailStep.run(ctx)).rejects.toMatchObject({
      code: "SECRET_MISSING",
      message: "email.provider is ses but secret aws_secret_access_key is not set.",
    });
  });

  it("airgapped: no mail, no resources, outputs say so", async () => {
    const { ctx, ensured } = createFakeStepContext(emailStep, { preset: "airgapped" });
    expect(await emailStep.run(ctx)).toEqual({ provider: "none", from: null, host: null, port: null, tls: null });
    expect(ensured).toEqual([]);
  });
});

describe("email config through the engine's resolver", () => {
  const owned = Object.entries(emailStep.config).map(([key, spec]) => ({ key, spec, owner: "email" }));
  const resolve = (preset: "default" | "dev-mode" | "airgapped", env: Record<string, string> = {}, sets: string[] = []) =>
    resolveConfig({ owned, preset, file: new Map(), env, sets });

  it("dev-mode and airgapped need no answers; default asks for sender and host", () => {
    expect(resolve("dev-mode").missing).toEqual([]);
    expect(resolve("airgapped").missing).toEqual([]);
    expect(resolve("default").missing.map((m) => m.key)).toEqual(["email.from", "email.smtp.host"]);
  });

  it("MAIL_PROVIDER=ses switches the questions to SES", () => {
    const config = resolve("default", { MAIL_PROVIDER: "ses" });
    expect(config.missing.map((m) => m.key)).toEqual(["email.from", "email.ses.region"]);
    expect(config.isInactive("email.smtp.host")).toBe(true);
  });

  it("--set values are coerced and validated", () => {
    const config = resolve("dev-mode", {}, ["email.smtp.port=99999", "email.smtp.host=mail_catcher"]);
    expect(config.problems.map((p) => `${p.key} (${p.source}): ${p.message}`)).toEqual([
      'email.smtp.host (--set): must be a host name (letters, digits and hyphens in dot-separated labels of at most 63 characters, RFC 1123) or an IP address, got "mail_catcher"',
      "email.smtp.port (--set): must be a port number from 1 to 65535, got 99999",
    ]);
  });
});
