import { defineStep, ErrorCode, invalidConfig, isSet, requireConfig, StepwiseError } from "@stepwise/core";
import type { ConfigReader, StepContext, StepOutputs } from "@stepwise/core";
import { awsRegionProblem, emailAddressProblem, hostnameProblem, portProblem } from "./network-rules.js";

export const MAIL_PROVIDERS = ["smtp", "ses", "none"] as const;
export type MailProvider = (typeof MAIL_PROVIDERS)[number];

/** `starttls`: upgrade a plain connection (port 587); `tls`: TLS from the start (port 465); `none`: plain text. */
export const SMTP_TLS_MODES = ["starttls", "tls", "none"] as const;
export type SmtpTlsMode = (typeof SMTP_TLS_MODES)[number];

/** The mail catcher started in dev-mode; overridable with `email.catcher.image`. */
export const DEFAULT_CATCHER_IMAGE = "docker.io/axllent/mailpit:v1.29.7";
const CATCHER_WEB_PORT = 8025;

const provider = (config: ConfigReader) => config.get<string>("email.provider");
const isSmtp = (config: ConfigReader) => provider(config) === "smtp";
const isSes = (config: ConfigReader) => provider(config) === "ses";
const sendsMail = (config: ConfigReader) => provider(config) !== undefined && provider(config) !== "none";
const hasSmtpUser = (config: ConfigReader) => isSmtp(config) && isSet(config.get("email.smtp.user"));
const catcherEnabled = (config: ConfigReader) => isSmtp(config) && config.get("email.catcher.enabled") === true;



/**
 * Mail settings: SMTP (with an optional local mail catcher for dev-mode), Amazon SES, or none
 * (airgapped). Owns the mail config keys and credentials; its outputs let an app service read
 * `${outputs.email.host}` and friends, and name (never contain) the secrets to mount.
 */
export const emailStep = defineStep({
  name: "email",
  description: "Outgoing mail: SMTP or Amazon SES settings and credentials",
  required: true,
  // The local mail catcher runs as a service of the site's target.
  resources: (config) => (catcherEnabled(config) ? ["service"] : []),
  config: {
    "email.provider": {
      description: "How the application sends mail: smtp, ses (Amazon SES) or none",
      choices: MAIL_PROVIDERS,
      default: "smtp",
      presets: { "dev-mode": "smtp", airgapped: "none" },
      env: "MAIL_PROVIDER",
      prompt: "Mail provider (smtp, ses or none)",
      required: true,
    },
    "email.from": {
      description: "Sender address of the mail the application sends",
      presets: { "dev-mode": "noreply@localhost" },
      prompt: "Sender address (From:)",
      required: true,
      when: sendsMail,
      validate: emailAddressProblem,
    },
    "email.smtp.host": {
      description: "SMTP server host name",
      presets: { "dev-mode": "mailpit" },
      prompt: "SMTP host",
      required: true,
      when: isSmtp,
      validate: hostnameProblem,
    },
    "email.smtp.port": {
      description: "SMTP server port (587 for STARTTLS, 465 for TLS)",
      type: "integer",
      default: 587,
      presets: { "dev-mode": 1025 },
      prompt: "SMTP port",
      required: true,
      when: isSmtp,
      validate: portProblem,
    },
    "email.smtp.user": {
      description: "SMTP user name; leave empty when the server needs no authentication",
      prompt: "SMTP user (empty for none)",
      when: isSmtp,
    },
    "email.smtp.tls": {
      description: "Transport security: starttls, tls (from the first byte) or none",
      choices: SMTP_TLS_MODES,
      default: "starttls",
      presets: { "dev-mode": "none" },
      when: isSmtp,
    },
    "email.ses.region": {
      description: "AWS region of Amazon SES, e.g. eu-west-1",
      prompt: "SES region",
      required: true,
      when: isSes,
      validate: awsRegionProblem,
    },
    "email.catcher.enabled": {
      description: "Run a local mail catcher (Mailpit) as the SMTP host; mail never leaves the machine",
      type: "boolean",
      default: false,
      presets: { "dev-mode": true },
      when: isSmtp,
    },
    "email.catcher.image": {
      description: "Image of the mail catcher",
      default: DEFAULT_CATCHER_IMAGE,
      when: catcherEnabled,
    },
    "email.catcher.webPort": {
      description: "Host port of the mail catcher's web UI",
      type: "integer",
      default: CATCHER_WEB_PORT,
      when: catcherEnabled,
      validate: portProblem,
    },
  },
  secrets: {
    smtp_password: {
      description: "Password of email.smtp.user",
      prompt: "SMTP password",
      required: true,
      // A mail catcher (dev-mode) has no user, so no password is asked for there.
      when: hasSmtpUser,
    },
    aws_access_key_id: {
      description: "AWS access key id allowed to send through SES",
      prompt: "AWS access key id for SES",
      required: true,
      when: isSes,
    },
    aws_secret_access_key: {
      description: "AWS secret access key of aws_access_key_id",
      prompt: "AWS secret access key for SES",
      required: true,
      when: isSes,
    },
  },
  run: async (ctx) => {
    const chosen = ctx.config.get<string>("email.provider");
    if (chosen === "none") {
      ctx.log.info("mail is off (email.provider: none)");
      return { provider: "none", from: null, host: null, port: null, tls: null };
    }
    const from = requireConfig<string>(ctx, "email.from", emailAddressProblem, `when email.provider is ${ctx.config.get("email.provider")}`);
    if (chosen === "smtp") return runSmtp(ctx, from);
    if (chosen === "ses") return runSes(ctx, from);
    throw invalidConfig(`email.provider must be one of ${MAIL_PROVIDERS.join(", ")}, got ${JSON.stringify(chosen)}`, "email.provider");
  },
});

async function runSmtp(ctx: StepContext, from: string): Promise<StepOutputs> {
  const host = requireConfig<string>(ctx, "email.smtp.host", hostnameProblem, `when email.provider is ${ctx.config.get("email.provider")}`);
  const port = requireConfig<number>(ctx, "email.smtp.port", portProblem, `when email.provider is ${ctx.config.get("email.provider")}`);
  const tls = ctx.config.get<string>("email.smtp.tls") ?? "starttls";
  if (!(SMTP_TLS_MODES as readonly string[]).includes(tls)) {
    throw invalidConfig(`email.smtp.tls must be one of ${SMTP_TLS_MODES.join(", ")}, got ${JSON.stringify(tls)}`, "email.smtp.tls");
  }
  const userValue = ctx.config.get("email.smtp.user");
  const user = isSet(userValue) ? String(userValue) : null;
  const password = ctx.secrets.get("smtp_password");

  if (user !== null && password === undefined) {
    throw new StepwiseError(ErrorCode.SecretMissing, `email.smtp.user is "${user}" but secret smtp_password is not set.`, {
      step: ctx.step,
      hint: "stepwise secrets set smtp_password   (or clear email.smtp.user when the server needs no authentication)",
    });
  }
  if (user === null && password !== undefined) {
    ctx.log.warn("secret smtp_password is set but email.smtp.user is empty; mail is sent without authentication");
  }
  if (tls === "starttls" && port === 465) ctx.log.warn("email.smtp.port 465 usually expects email.smtp.tls: tls, not starttls");
  if (tls === "tls" && port === 587) ctx.log.warn("email.smtp.port 587 usually expects email.smtp.tls: starttls, not tls");
  if (tls === "none" && user !== null) ctx.log.warn(`the SMTP password travels unencrypted to ${host}:${port} (email.smtp.tls: none)`);

  const outputs: StepOutputs = {
    provider: "smtp",
    from,
    host,
    port,
    tls,
    user,
    passwordSecret: user === null ? null : "smtp_password",
  };
  if (ctx.config.get("email.catcher.enabled") === true) {
    outputs.catcherUrl = await ensureCatcher(ctx, host, port, tls);
  }
  return outputs;
}

/** Starts the mail catcher as the service the SMTP host names, listening on the SMTP port. */
async function ensureCatcher(ctx: StepContext, host: string, port: number, tls: string): Promise<string> {
  if (host.includes(".") || hostnameProblem(host) !== undefined) {
    throw invalidConfig(
      `email.catcher.enabled needs email.smtp.host to be the catcher's service name (one label like "mailpit"), got "${host}"`,
      "email.smtp.host",
    );
  }
  if (tls !== "none") throw invalidConfig(`the mail catcher speaks plain SMTP; set email.smtp.tls to none (got ${tls})`, "email.smtp.tls");
  const webPort = ctx.config.get<number>("email.catcher.webPort") ?? CATCHER_WEB_PORT;
  await ctx.target.ensure({
    kind: "service",
    name: host,
    image: ctx.config.get<string>("email.catcher.image") ?? DEFAULT_CATCHER_IMAGE,
    env: {
      MP_SMTP_BIND_ADDR: `0.0.0.0:${port}`,
      MP_UI_BIND_ADDR: `0.0.0.0:${CATCHER_WEB_PORT}`,
      // Accept whatever credentials the app sends, over plain SMTP: nothing leaves the catcher.
      MP_SMTP_AUTH_ACCEPT_ANY: "true",
      MP_SMTP_AUTH_ALLOW_INSECURE: "true",
    },
    ports: [{ host: webPort, container: CATCHER_WEB_PORT }],
    healthcheck: { http: "/readyz", intervalSeconds: 5, retries: 12 },
  });
  const url = `http://localhost:${webPort}`;
  ctx.log.info(`mail is caught by ${host}; read it at ${url}`);
  return url;
}

function runSes(ctx: StepContext, from: string): StepOutputs {
  const region = requireConfig<string>(ctx, "email.ses.region", awsRegionProblem, `when email.provider is ${ctx.config.get("email.provider")}`);
  const missing = ["aws_access_key_id", "aws_secret_access_key"].filter((name) => ctx.secrets.get(name) === undefined);
  if (missing.length > 0) {
    throw new StepwiseError(ErrorCode.SecretMissing, `email.provider is ses but secret ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not set.`, {
      step: ctx.step,
      hint: missing.map((name) => `stepwise secrets set ${name}`).join("; "),
    });
  }
  return {
    provider: "ses",
    from,
    region,
    host: `email.${region}.amazonaws.com`,
    port: 443,
    tls: "tls",
    accessKeyIdSecret: "aws_access_key_id",
    secretAccessKeySecret: "aws_secret_access_key",
  };
}



