import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SiteSession } from "../engine/site-session.js";
import { loadSite } from "../site/load-site.js";
import { checkAnswer, listQuestions, newProgress, readProgress, saveConfigValue, savePluginEntry, writeProgress, type Question } from "./configure-flow.js";

/** A real plugin package on disk: mail settings whose questions depend on each other. */
const PLUGIN = `export default {
  meta: { name: "mail-fixture", version: "1.0.0" },
  steps: [
    {
      name: "mail",
      description: "mail",
      config: {
        "mail.provider": { description: "provider", choices: ["smtp", "none"], default: "smtp", prompt: "Provider", required: true },
        "mail.host": { description: "host", prompt: "Host", required: true, when: (c) => c.get("mail.provider") === "smtp" },
        "mail.port": { description: "port", type: "integer", default: 587, prompt: "Port", required: true, when: (c) => c.get("mail.provider") === "smtp",
          validate: (v) => (v >= 1 && v <= 65535 ? undefined : "must be a port from 1 to 65535") },
        "mail.user": { description: "user", prompt: "User", when: (c) => c.get("mail.provider") === "smtp" },
        "mail.internal": { description: "never asked: no prompt", default: "x" },
      },
      secrets: {
        mail_password: { description: "password", prompt: "Password", when: (c) => Boolean(c.get("mail.user")) },
        mail_token: { description: "optional token", required: false },
        mail_key: { description: "generated", generate: { length: 16 } },
      },
      async run() {},
    },
    {
      name: "app",
      description: "app",
      dependsOn: ["mail"],
      config: { "app.title": { description: "title", prompt: "Title", required: true } },
      async run() {},
    },
  ],
};
`;

function makeSite(config = ""): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-configure-"));
  const root = path.join(dir, "node_modules", "mail-fixture");
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "mail-fixture", version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "^0.1.0" } }));
  writeFileSync(path.join(root, "index.js"), PLUGIN);
  writeFileSync(path.join(dir, "stepwise.yaml"), `name: configure-unit\nplugins:\n  - mail-fixture\n${config}`);
  return dir;
}

const open = (dir: string, options: { sets?: string[]; env?: Record<string, string> } = {}) => SiteSession.open({ dir, env: options.env ?? {}, sets: options.sets });
const summary = (questions: (Question & { done: boolean })[]) => questions.map((q) => `${q.kind} ${q.key}${q.required ? "" : " (optional)"}${q.done ? " done" : ""}`);

describe("configure questions", () => {
  it("asks required settings first, then required secrets, then optional ones, in step order; only keys with a prompt whose `when` holds", async () => {
    const session = await open(makeSite());
    expect(summary(await listQuestions(session, newProgress()))).toEqual([
      "config mail.provider",
      "config mail.host",
      "config mail.port",
      "config app.title",
      "config mail.user (optional)",
      "secret mail_token (optional)",
    ]);
    const questions = await listQuestions(session, newProgress());
    // The default (or preset) value is what configure offers in brackets.
    expect(questions.find((q) => q.key === "mail.port")!.current).toBe(587);
    expect(questions.find((q) => q.key === "mail.provider")).toMatchObject({ owner: "mail", prompt: "Provider" });
  });

  it("counts values from the file, env and --set, this session's answers, set secrets and skipped secrets as done", async () => {
    const dir = makeSite("config:\n  mail:\n    host: mail.example.com\n    user: mailer\n");
    const session = await open(dir, { sets: ["app.title=Shop"], env: { STEPWISE_CONFIG_MAIL__PORT: "25" } });
    const progress = { ...newProgress(), answered: ["mail.provider"], skipped: ["mail_token"] };
    const questions = await listQuestions(session, progress);
    expect(summary(questions)).toEqual([
      "config mail.provider done",
      "config mail.host done",
      "config mail.port done",
      "config app.title done",
      // A user makes the password apply: a required secret, asked before optional settings.
      "secret mail_password",
      "config mail.user (optional) done",
      "secret mail_token (optional) done",
    ]);
    await (await session.secrets()).set(new Map([["mail_password", "pw-123456"]]));
    expect((await listQuestions(session, progress)).find((q) => q.key === "mail_password")!.done).toBe(true);
  });

  it("asks settings from the file again in an askAll (reset) session, but not env or --set ones, which would shadow the answer", async () => {
    const dir = makeSite("config:\n  mail:\n    host: mail.example.com\n");
    const session = await open(dir, { env: { STEPWISE_CONFIG_APP__TITLE: "From env" } });
    const questions = await listQuestions(session, newProgress({ askAll: true }));
    expect(questions.find((q) => q.key === "mail.host")).toMatchObject({ done: false, current: "mail.example.com" });
    expect(questions.find((q) => q.key === "app.title")!.done).toBe(true);
  });

  it("asks again for a value that is set but invalid", async () => {
    const session = await open(makeSite("config:\n  mail:\n    port: 99999\n"));
    expect((await listQuestions(session, newProgress())).find((q) => q.key === "mail.port")!.done).toBe(false);
  });

  it("checks typed answers: coercion, choices, validation", async () => {
    const session = await open(makeSite());
    const questions = await listQuestions(session, newProgress());
    const port = questions.find((q) => q.key === "mail.port")!;
    expect(checkAnswer(port, "2525", session)).toEqual({ value: 2525 });
    expect(checkAnswer(port, "abc", session)).toEqual({ error: 'expected an integer, got "abc"' });
    expect(checkAnswer(port, "70000", session)).toEqual({ error: "must be a port from 1 to 65535" });
    const provider = questions.find((q) => q.key === "mail.provider")!;
    expect(checkAnswer(provider, "ses", session)).toEqual({ error: 'must be one of "smtp", "none"' });
  });
});

describe("configure progress", () => {
  it("is absent at first, then round-trips through .stepwise/configure.json", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-progress-"));
    expect(await readProgress(dir)).toBeUndefined();
    const progress = { ...newProgress({ askAll: true }), answered: ["a.b"], skipped: ["s"] };
    await writeProgress(dir, progress);
    expect(await readProgress(dir)).toEqual(progress);
    writeFileSync(path.join(dir, ".stepwise/configure.json"), "{ torn");
    expect(await readProgress(dir)).toBeUndefined();
  });
});

describe("saving answers into stepwise.yaml", () => {
  const write = (text: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-save-"));
    const file = path.join(dir, "stepwise.yaml");
    writeFileSync(file, text);
    return file;
  };

  it("keeps every comment, edits values in place and nests new keys", async () => {
    const file = write(`# header comment
name: demo # the site
plugins: [a]
config:
  # mail settings
  mail:
    port: 25 # the old port
    host: "old.example.com"
  app.title: Old # dot-path key
# trailing comment
`);
    await saveConfigValue(file, "mail.port", 2525);
    await saveConfigValue(file, "mail.host", "mail.example.com");
    await saveConfigValue(file, "app.title", "New");
    await saveConfigValue(file, "mail.tls.mode", "starttls");
    await saveConfigValue(file, "storage.days", 45);
    await saveConfigValue(file, "storage.enabled", false);
    await saveConfigValue(file, "mail.zip", "01234");
    const text = readFileSync(file, "utf8");
    for (const comment of ["# header comment", "# the site", "# mail settings", "# the old port", "# dot-path key", "# trailing comment"]) expect(text).toContain(comment);
    expect(text).toContain("port: 2525 # the old port");
    expect(text).toContain("app.title: New # dot-path key");
    const config = Object.fromEntries([...loadSite(path.dirname(file)).config].map(([k, v]) => [k, v.value]));
    expect(config).toEqual({
      "mail.port": 2525,
      "mail.host": "mail.example.com",
      "app.title": "New",
      "mail.tls.mode": "starttls",
      "storage.days": 45,
      "storage.enabled": false,
      // A string that looks like a number stays a string.
      "mail.zip": "01234",
    });
  });

  it("creates config: when the file has none, or an empty one", async () => {
    for (const text of ["name: demo\nplugins: [a]\n", "name: demo\nplugins: [a]\nconfig:\n"]) {
      const file = write(text);
      await saveConfigValue(file, "mail.port", 25);
      expect(loadSite(path.dirname(file)).config.get("mail.port")!.value).toBe(25);
    }
  });

  it("fills a `config: {}` placeholder or an empty `config:` in block style, keeping the comments below it above the new keys", async () => {
    for (const placeholder of ["config: {}", "config:"]) {
      const file = write(`name: demo
plugins: [a]
${placeholder}
  # mail:
  #   port: 25

services: {} # kept as written
`);
      await saveConfigValue(file, "mail.host", "mail.example.com");
      await saveConfigValue(file, "mail.tls.mode", "starttls");
      await saveConfigValue(file, "app.tags", ["a", "b"]);
      expect(readFileSync(file, "utf8"), placeholder).toBe(`name: demo
plugins: [a]
config:
  # mail:
  #   port: 25
  mail:
    host: mail.example.com
    tls:
      mode: starttls
  app:
    tags:
      - a
      - b

services: {} # kept as written
`);
    }
  });

  it("leaves a mapping the user wrote in flow style as flow, and adds keys inside it in flow style", async () => {
    // Written with or without spaces inside the brackets: what the edit did not touch stays as written.
    for (const [open, close] of [["{ ", " }"], ["{", "}"]] as const) {
      const list = open === "{" ? "[a]" : "[ a ]";
      const file = write(`name: demo\nplugins: ${list}\nconfig:\n  mail: ${open}host: old${close} # mine\n  # after mail\n`);
      await saveConfigValue(file, "mail.tls.mode", "starttls");
      await saveConfigValue(file, "storage.days", 45);
      expect(readFileSync(file, "utf8")).toBe(
        `name: demo\nplugins: ${list}\nconfig:\n  mail: ${open}host: old, tls: ${open}mode: starttls${close}${close} # mine\n  storage:\n    days: 45\n  # after mail\n`,
      );
    }
  });

  it("keeps the file's indent and long strings on one line", async () => {
    const long = `"${"x".repeat(120)}"`;
    const file = write(`name: demo\nplugins:\n    - a\nconfig:\n    app:\n        title: ${long}\n`);
    await saveConfigValue(file, "app.port", 8080);
    expect(readFileSync(file, "utf8")).toBe(`name: demo\nplugins:\n    - a\nconfig:\n    app:\n        title: ${long}\n        port: 8080\n`);
  });

  it("refuses to write below a value that is not a mapping, naming the file and the key", async () => {
    const file = write("name: demo\nplugins: [a]\nconfig:\n  mail: off\n");
    await expect(saveConfigValue(file, "mail.port", 25)).rejects.toMatchObject({ code: "SITE_INVALID", message: expect.stringContaining("Cannot save mail.port: config.mail") });
    expect(readFileSync(file, "utf8")).toBe("name: demo\nplugins: [a]\nconfig:\n  mail: off\n");
  });
});

describe("savePluginEntry", () => {
  const siteFile = (text: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugin-entry-"));
    writeFileSync(path.join(dir, "stepwise.yaml"), text);
    return path.join(dir, "stepwise.yaml");
  };

  it("turns init's commented plugins: into a block list, the comments kept above the entry", async () => {
    const file = siteFile('name: s\n# npm packages installed next to this file\nplugins:\n  # - "@stepwise/target-podman"\n# target: podman\nconfig:\n  a: 1 # mine\n');
    expect(await savePluginEntry(file, "@stepwise/step-email")).toBe(true);
    const text = readFileSync(file, "utf8");
    expect(text).toBe('name: s\n# npm packages installed next to this file\nplugins:\n  # - "@stepwise/target-podman"\n  - "@stepwise/step-email"\n# target: podman\nconfig:\n  a: 1 # mine\n');
    expect(loadSite(path.dirname(file)).plugins.map((p) => p.name)).toEqual(["@stepwise/step-email"]);
  });

  it("appends to a block or flow list, keeping its style, and writes nothing for a listed name", async () => {
    const block = siteFile("name: s\nplugins:\n  - a # first\n  - name: b\n    options: { x: 1 }\n");
    expect(await savePluginEntry(block, "c")).toBe(true);
    expect(readFileSync(block, "utf8")).toBe("name: s\nplugins:\n  - a # first\n  - name: b\n    options: { x: 1 }\n  - c\n");
    const before = readFileSync(block, "utf8");
    expect(await savePluginEntry(block, "a")).toBe(false);
    expect(await savePluginEntry(block, "b")).toBe(false);
    expect(readFileSync(block, "utf8")).toBe(before);
    const flow = siteFile("name: s\nplugins: [a]\n");
    expect(await savePluginEntry(flow, "stepwise-step-x")).toBe(true);
    expect(readFileSync(flow, "utf8")).toBe("name: s\nplugins: [a, stepwise-step-x]\n");
  });

  it("adds plugins: when the file has none", async () => {
    const file = siteFile("name: s\n");
    await savePluginEntry(file, "p");
    expect(loadSite(path.dirname(file)).plugins.map((p) => p.name)).toEqual(["p"]);
  });
});
