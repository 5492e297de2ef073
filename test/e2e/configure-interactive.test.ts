import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadSite } from "@stepwise/core/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliBin, runCli } from "./cli-harness.js";
import { LeakWatch, assertBuilt, makeComponentSite } from "../fixtures/component-site.js";
import { TmuxPane, ensureTmux, startCliInPane, terminalEnv } from "../fixtures/tmux-pane.js";

const SITE = `# Site for the interactive configure test.
name: tty-site
target: recorder
plugins:
  - stepwise-target-recorder # the fixture target
  - "@stepwise/step-email"
  - "@stepwise/step-database"
  - "@stepwise/step-telemetry"
  - "@stepwise/step-storage"
templates:
  source: templates
  output: rendered
config:
  # Settings below are written by stepwise configure; this comment must survive.
  database:
    user: app # owner of the databases
`;

const ENV_TEMPLATE = `# rendered by stepwise from templates/.env
SMTP_HOST=\${config.email.smtp.host}
SMTP_PORT=\${config.email.smtp.port}
SMTP_USER=\${config.email.smtp.user}
SMTP_PASSWORD=\${secret.smtp_password}
DATABASE_URL=postgres://\${outputs.database.user}@\${outputs.database.host}:\${outputs.database.port}/\${outputs.database.database}
DATABASE_PASSWORD=\${ secret.db_password }
PRICE=$\${NOT_A_REFERENCE}
`;

const SMTP_PASSWORD = "tty-smtp-pa55word";

describe("stepwise configure in a pseudo-terminal (tmux)", () => {
  let tmuxProblem: string | undefined;
  let pane: TmuxPane | undefined;
  beforeAll(() => {
    assertBuilt();
    tmuxProblem = ensureTmux();
    if (!tmuxProblem) pane = new TmuxPane(terminalEnv());
  });
  afterAll(() => pane?.kill());

  it("answers, is interrupted, resumes with continue, skips a secret, finishes; config, secrets, status and the rendered .env are right", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const dir = makeComponentSite({ yaml: SITE });
    mkdirSync(path.join(dir, "templates"));
    writeFileSync(path.join(dir, "templates/.template-version"), "0.1.0\n");
    writeFileSync(path.join(dir, "templates/.env"), ENV_TEMPLATE);
    const tmux = pane!;
    const watch = new LeakWatch(dir);

    // Session 1: required settings first, defaults in brackets; interrupted at the SMTP port.
    const first = startCliInPane(tmux, dir, cliBin, ["configure"]);
    const one = first.session;
    let screen = await tmux.waitFor(one, /◆\s+Application database name\s+\[database: database\.name\] \[app\]/);
    expect(screen).toContain("stepwise configure — site tty-site (preset default)");
    tmux.type(one, "shop");
    tmux.keys(one, "Enter");
    screen = await tmux.waitFor(one, /◆\s+Mail provider/);
    expect(screen).toMatch(/● smtp/);
    tmux.keys(one, "Enter");
    await tmux.waitFor(one, /◆\s+Sender address/);
    tmux.type(one, "ops@example.com");
    tmux.keys(one, "Enter");
    await tmux.waitFor(one, /◆\s+SMTP host/);
    tmux.type(one, "mail.example.com");
    tmux.keys(one, "Enter");
    await tmux.waitFor(one, /◆\s+SMTP port\s+\[email: email\.smtp\.port\] \[587\]/);
    tmux.keys(one, "C-c");
    screen = await tmux.waitFor(one, /Stopped\. Every answer so far is saved/);
    expect(await first.exitCode()).toBe(130);
    watch.keepText("terminal, session 1", screen);
    // Every answer was saved at once.
    expect(siteConfig(dir)).toMatchObject({ "database.name": "shop", "email.provider": "smtp", "email.from": "ops@example.com", "email.smtp.host": "mail.example.com" });
    expect(siteConfig(dir)["email.smtp.port"]).toBeUndefined();
    const progress = JSON.parse(readFileSync(path.join(dir, ".stepwise/configure.json"), "utf8"));
    expect(progress).toMatchObject({ answered: ["database.name", "email.provider", "email.from", "email.smtp.host"], skipped: [] });
    expect(progress.completedAt).toBeUndefined();

    const midway = watch.keep("status midway", await runCli(["configure", "--status"], { cwd: dir }));
    expect(midway.code).toBe(0);
    expect(midway.stdout).toContain("next: config email.smtp.port (email) — run stepwise configure");
    expect(midway.stdout).toMatch(/database +settings 1\/1/);

    // Session 2: offered continue / reset / quit; continue asks only what is left.
    const second = startCliInPane(tmux, dir, cliBin, ["configure"]);
    const two = second.session;
    screen = await tmux.waitFor(two, /◆\s+A configure session from .* stopped with \d+ questions? left/);
    expect(screen).toContain("Continue where it stopped");
    expect(screen).toContain("Start over");
    expect(screen).toContain("Quit");
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /◆\s+SMTP port/);
    // An invalid answer is refused in place, with the reason.
    tmux.type(two, "abc");
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /expected an integer, got "abc"/);
    tmux.keys(two, "BSpace", "BSpace", "BSpace");
    tmux.type(two, "2525");
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /◆\s+Object store \(local or s3\)/);
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /◆\s+SMTP user \(empty for none\) \(optional\)/);
    tmux.type(two, "mailer");
    tmux.keys(two, "Enter");
    // A user makes the SMTP password apply: asked hidden, and skipped with an empty answer.
    screen = await tmux.waitFor(two, /◆\s+SMTP password\s+\[email: smtp_password\]/);
    expect(screen).toContain("leave empty to skip for now");
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /◆\s+Days until uploaded datasets expire \(optional\)\s+\[storage: storage\.datasetExpirationDays\] \[30\]/);
    tmux.type(two, "45");
    tmux.keys(two, "Enter");
    await tmux.waitFor(two, /◆\s+Report errors to Sentry\? \(optional\)/);
    tmux.keys(two, "Enter");
    screen = await tmux.waitFor(two, /Configured\. 0\/1 secrets provided/);
    expect(await second.exitCode()).toBe(0);
    screen = tmux.screen(two);
    watch.keepText("terminal, session 2", screen);
    expect(screen).toContain("Deploy refuses to run until this secret is set");
    expect(screen).toContain("stepwise secrets set smtp_password");
    // Questions already answered in session 1 were not asked again.
    expect(screen).not.toContain("Application database name");

    // stepwise.yaml holds the answers, and its comments survived.
    const yamlText = readFileSync(path.join(dir, "stepwise.yaml"), "utf8");
    expect(yamlText).toContain("# Site for the interactive configure test.");
    expect(yamlText).toContain("  - stepwise-target-recorder # the fixture target");
    expect(yamlText).toContain("  # Settings below are written by stepwise configure; this comment must survive.");
    expect(yamlText).toContain("user: app # owner of the databases");
    expect(siteConfig(dir)).toEqual({
      "database.user": "app",
      "database.name": "shop",
      "email.provider": "smtp",
      "email.from": "ops@example.com",
      "email.smtp.host": "mail.example.com",
      "email.smtp.port": 2525,
      "email.smtp.user": "mailer",
      "storage.objectStore.provider": "local",
      "storage.datasetExpirationDays": 45,
      "telemetry.sentryEnabled": false,
    });
    expect(JSON.parse(readFileSync(path.join(dir, ".stepwise/configure.json"), "utf8"))).toMatchObject({ skipped: ["smtp_password"], completedAt: expect.any(String) });

    // The skipped secret is not set; generated ones are.
    const list = watch.keep("secrets list --json", await runCli(["secrets", "list", "--json"], { cwd: dir }));
    const secrets = JSON.parse(list.stdout) as { provided: { set: number; total: number; summary: string }; secrets: { name: string; set: boolean; required: boolean; kind: string }[] };
    expect(secrets.provided).toEqual({ set: 0, total: 1, summary: "0/1 secrets provided" });
    expect(secrets.secrets.find((s) => s.name === "smtp_password")).toMatchObject({ set: false, required: true, kind: "provided" });
    expect(secrets.secrets.find((s) => s.name === "db_password")).toMatchObject({ set: true, kind: "generated" });
    const listText = watch.keep("secrets list", await runCli(["secrets", "list"], { cwd: dir }));
    expect(listText.stdout).toContain("0/1 secrets provided");
    expect(listText.stdout).toMatch(/smtp_password +provided +MISSING/);

    const status = watch.keep("status", await runCli(["configure", "--status"], { cwd: dir }));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/email +settings 5\/5 +secrets 0\/1 \(not set: smtp_password\)/);
    expect(status.stdout).toContain("0/1 secrets provided");
    expect(status.stdout).toContain(`missing: secret smtp_password (email) — printf '%s' "$VALUE" | stepwise secrets set smtp_password`);
    expect(status.stdout).not.toContain("run stepwise deploy");
    const statusJson = JSON.parse(watch.keep("status --json", await runCli(["configure", "--status", "--json"], { cwd: dir })).stdout);
    expect(statusJson).toMatchObject({ readyToDeploy: false, missingSecrets: ["smtp_password"], secrets: "0/1 secrets provided" });

    // Deploy refuses while the required secret is missing, naming it and the command.
    const refused = watch.keep("deploy refused", await runCli(["deploy"], { cwd: dir }));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("smtp_password (used by email)");
    expect(refused.stderr).toContain("stepwise secrets set smtp_password");
    expect(existsSync(path.join(dir, "rendered"))).toBe(false);

    const set = watch.keep("secrets set", await runCli(["secrets", "set", "smtp_password"], { cwd: dir, input: SMTP_PASSWORD }));
    expect(set.code).toBe(0);
    const ready = watch.keep("status ready", await runCli(["configure", "--status"], { cwd: dir }));
    expect(ready.stdout).toContain("1/1 secrets provided");
    expect(ready.stdout).toContain("nothing left to ask — run stepwise deploy");

    const deployed = watch.keep("deploy", await runCli(["deploy", "--verbose"], { cwd: dir }));
    expect(deployed.stderr).toBe("");
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toContain("templates: rendered rendered/.env (0600)");
    const envFile = path.join(dir, "rendered/.env");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const values = await new (await import("@stepwise/core/engine")).AgeSecretBackend(dir).readAll();
    expect(readFileSync(envFile, "utf8")).toBe(`# rendered by stepwise from templates/.env
SMTP_HOST=mail.example.com
SMTP_PORT=2525
SMTP_USER=mailer
SMTP_PASSWORD=${SMTP_PASSWORD}
DATABASE_URL=postgres://app@postgres.recorder.internal:5432/shop
DATABASE_PASSWORD=${values.get("db_password")}
PRICE=\${NOT_A_REFERENCE}
`);
    watch.keep("deploy json", await runCli(["deploy", "--json", "--verbose"], { cwd: dir }));
    watch.keep("state show", await runCli(["state", "show"], { cwd: dir }));
    await watch.assertNoSecretLeaked([SMTP_PASSWORD]);
  }, 120_000);

  it("--no-prompt-secrets asks no secret; an empty optional setting writes nothing; --reset and \"start over\" ask saved settings again with their values as defaults; quit changes nothing", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const dir = makeComponentSite({
      yaml: `${SITE.replace(/templates:\n  source: templates\n  output: rendered\n/, "")}  email:
    from: ops@example.com # set by hand before configure
    smtp:
      host: mail.example.com
`,
    });
    const tmux = pane!;
    const watch = new LeakWatch(dir);
    const answer = async (session: string, prompt: RegExp, ...input: string[]) => {
      await tmux.waitFor(session, new RegExp(`◆\\s+${prompt.source}`));
      for (const item of input) {
        if (item.startsWith("key:")) tmux.keys(session, item.slice(4));
        else tmux.type(session, item);
      }
      tmux.keys(session, "Enter");
    };

    // A: values already in the file are not asked; secrets are not asked at all.
    const a = startCliInPane(tmux, dir, cliBin, ["configure", "--no-prompt-secrets"]);
    await answer(a.session, /Application database name .*\[app\]/);
    await answer(a.session, /Mail provider/);
    await answer(a.session, /SMTP port .*\[587\]/);
    await answer(a.session, /Object store/);
    await answer(a.session, /SMTP user \(empty for none\) \(optional\)/);
    await answer(a.session, /Days until uploaded datasets expire .*\[30\]/);
    await answer(a.session, /Report errors to Sentry\?/, "key:Left");
    await tmux.waitFor(a.session, /Configured\. 0\/1 secrets provided/);
    expect(await a.exitCode()).toBe(0);
    let screen = tmux.screen(a.session);
    watch.keepText("terminal A", screen);
    expect(screen).not.toContain("Sender address");
    expect(screen).not.toContain("SMTP host");
    expect(screen).not.toContain("Sentry DSN");
    expect(siteConfig(dir)).toEqual({
      "database.user": "app",
      "database.name": "app",
      "email.from": "ops@example.com",
      "email.smtp.host": "mail.example.com",
      "email.provider": "smtp",
      "email.smtp.port": 587,
      "storage.objectStore.provider": "local",
      // email.smtp.user was left empty: nothing is written for it.
      "storage.datasetExpirationDays": 30,
      "telemetry.sentryEnabled": true,
    });
    expect(readFileSync(path.join(dir, "stepwise.yaml"), "utf8")).toContain("from: ops@example.com # set by hand before configure");

    // B: --reset asks everything again, saved values as defaults; interrupted after one answer.
    const b = startCliInPane(tmux, dir, cliBin, ["configure", "--reset"]);
    screen = await tmux.waitFor(b.session, /◆\s+Application database name .*\[app\]/);
    expect(screen).not.toContain("A configure session from");
    tmux.keys(b.session, "BSpace", "BSpace", "BSpace");
    await answer(b.session, /Application database name/, "shop");
    await tmux.waitFor(b.session, /◆\s+Mail provider/);
    tmux.keys(b.session, "C-c");
    expect(await b.exitCode()).toBe(130);
    watch.keepText("terminal B", tmux.screen(b.session));
    expect(siteConfig(dir)["database.name"]).toBe("shop");

    // C: offered continue / reset / quit; quit changes nothing.
    const c = startCliInPane(tmux, dir, cliBin, ["configure"]);
    await answer(c.session, /A configure session from .* stopped/, "key:Down", "key:Down");
    await tmux.waitFor(c.session, /Nothing changed\. Run stepwise configure to continue\./);
    expect(await c.exitCode()).toBe(0);
    watch.keepText("terminal C", tmux.screen(c.session));
    expect(siteConfig(dir)["database.name"]).toBe("shop");

    // D: start over asks the saved settings again (the file's values in brackets), then secrets.
    const d = startCliInPane(tmux, dir, cliBin, ["configure"]);
    await answer(d.session, /A configure session from .* stopped/, "key:Down");
    await answer(d.session, /Application database name .*\[shop\]/);
    await answer(d.session, /Mail provider/);
    await answer(d.session, /Sender address .*\[ops@example\.com\]/);
    await answer(d.session, /SMTP host .*\[mail\.example\.com\]/);
    await answer(d.session, /SMTP port .*\[587\]/);
    await answer(d.session, /Object store/);
    await answer(d.session, /SMTP user \(empty for none\) \(optional\)/, "mailer");
    await answer(d.session, /SMTP password/, SMTP_PASSWORD);
    await answer(d.session, /Days until uploaded datasets expire .*\[30\]/);
    screen = await tmux.waitFor(d.session, /◆\s+Report errors to Sentry\?/);
    expect(screen).toMatch(/● Yes \/ ○ No/);
    tmux.keys(d.session, "Enter");
    await answer(d.session, /Sentry DSN \(optional\)/);
    await tmux.waitFor(d.session, /Configured\. 1\/2 secrets provided/);
    expect(await d.exitCode()).toBe(0);
    screen = tmux.screen(d.session);
    watch.keepText("terminal D", screen);
    expect(screen).not.toContain("Deploy refuses to run until");
    expect(siteConfig(dir)).toMatchObject({ "database.name": "shop", "email.smtp.user": "mailer", "telemetry.sentryEnabled": true });
    const stored = await new (await import("@stepwise/core/engine")).AgeSecretBackend(dir).readAll();
    expect(stored.get("smtp_password")).toBe(SMTP_PASSWORD);
    expect(stored.has("sentry_dsn")).toBe(false);
    const status = watch.keep("status", await runCli(["configure", "--status"], { cwd: dir }));
    expect(status.stdout).toMatch(/telemetry +settings 1\/1 +secrets 0\/1 \(not set: sentry_dsn\)/);
    // The session is finished, so the next configure asks the skipped optional secret again.
    expect(status.stdout).toContain("next: secret sentry_dsn (telemetry) — run stepwise configure");
    expect(status.stdout).not.toContain("missing:");
    await watch.assertNoSecretLeaked([SMTP_PASSWORD]);
  }, 120_000);
});

/** The config values written in the site's stepwise.yaml, by dot path. */
function siteConfig(dir: string): Record<string, unknown> {
  return Object.fromEntries([...loadSite(dir).config].map(([key, located]) => [key, located.value]));
}
