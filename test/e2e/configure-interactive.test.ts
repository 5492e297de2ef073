import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadSite } from "@stepwise/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliBin, runCli } from "./cli-harness.js";
import { LeakWatch, assertBuilt, makeComponentSite } from "../fixtures/component-site.js";

/**
 * `stepwise configure` in a real pseudo-terminal: tmux runs the built CLI in a detached pane,
 * `send-keys` types, `capture-pane` reads the screen. A private tmux server (-L) keeps the
 * test away from any tmux the machine runs.
 */
class TmuxPane {
  private static counter = 0;
  readonly socket = `stepwise-e2e-${process.pid}`;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private tmux(args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", "-u", ...args], { env: this.env, encoding: "utf8" });
  }

  /** Starts `command` in a new 160x60 session; returns its name. */
  start(script: string): string {
    const name = `cfg${++TmuxPane.counter}`;
    this.tmux(["new-session", "-d", "-s", name, "-x", "160", "-y", "60", "sh", script]);
    return name;
  }

  type(session: string, text: string): void {
    this.tmux(["send-keys", "-t", session, "-l", text]);
  }

  keys(session: string, ...keys: string[]): void {
    this.tmux(["send-keys", "-t", session, ...keys]);
  }

  /** The whole pane, history included, wrapped lines joined. */
  screen(session: string): string {
    return this.tmux(["capture-pane", "-p", "-J", "-S", "-", "-t", session]);
  }

  /** Polls the screen until `pattern` shows up; fails with the screen when it does not. */
  async waitFor(session: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = this.screen(session);
      if (pattern.test(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs}ms waiting for ${pattern} on the terminal:\n${screen}`);
  }

  kill(): void {
    spawnSync("tmux", ["-L", this.socket, "kill-server"], { env: this.env });
  }
}

/** tmux, installed on the spot when missing (CI machines are fresh and run as root). */
function ensureTmux(): string | undefined {
  const has = () => spawnSync("tmux", ["-V"]).status === 0;
  if (has()) return undefined;
  const install = spawnSync("sh", ["-c", "apt-get install -y tmux || (apt-get update && apt-get install -y tmux)"], { encoding: "utf8", timeout: 170_000 });
  if (has()) return undefined;
  return `tmux is not installed and \`apt-get install -y tmux\` failed (exit ${install.status}): ${(install.stderr || install.error?.message || "").trim().split("\n").slice(-2).join(" ")}`;
}

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
  });
  afterAll(() => pane?.kill());

  it("answers, is interrupted, resumes with continue, skips a secret, finishes; config, secrets, status and the rendered .env are right", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    const dir = makeComponentSite({ yaml: SITE });
    mkdirSync(path.join(dir, "templates"));
    writeFileSync(path.join(dir, "templates/.template-version"), "0.1.0\n");
    writeFileSync(path.join(dir, "templates/.env"), ENV_TEMPLATE);
    const exitFile = path.join(dir, "configure.exit");
    const script = path.join(dir, "configure.sh");
    // The pane runs configure, then writes its exit code and stays open so the screen can be read.
    writeFileSync(
      script,
      `unset CI; cd ${JSON.stringify(dir)}; rm -f ${JSON.stringify(exitFile)}
${JSON.stringify(process.execPath)} ${JSON.stringify(cliBin)} configure "$@"
echo $? > ${JSON.stringify(exitFile)}
exec sleep 600
`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", LANG: "C.UTF-8", TERM: "xterm-256color" };
    for (const key of Object.keys(env)) if (key === "CI" || key.startsWith("STEPWISE_") || key.startsWith("FIXTURE_")) delete env[key];
    pane = new TmuxPane(env);
    const tmux = pane;
    const watch = new LeakWatch(dir);
    const exited = async () => {
      for (let i = 0; i < 200 && !existsSync(exitFile); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(exitFile), "configure did not exit").toBe(true);
      return Number(readFileSync(exitFile, "utf8").trim());
    };

    // Session 1: required settings first, defaults in brackets; interrupted at the SMTP port.
    const one = tmux.start(script);
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
    expect(await exited()).toBe(130);
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
    const two = tmux.start(script);
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
    expect(await exited()).toBe(0);
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
    const values = await new (await import("@stepwise/core")).AgeSecretBackend(dir).readAll();
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
});

/** The config values written in the site's stepwise.yaml, by dot path. */
function siteConfig(dir: string): Record<string, unknown> {
  return Object.fromEntries([...loadSite(dir).config].map(([key, located]) => [key, located.value]));
}
