import { createHash, createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { JsonValue, StepContext, StepOutputs } from "../contracts.js";
import { parseSite } from "../site/load-site.js";
import { createTemplatesStep } from "./templates-step.js";

const KNOWN_STEPS = new Set(["database", "podman:network"]);
const hmac = (text: string) => `hmac-sha256:${createHmac("sha256", "site-key").update(text).digest("hex")}`;
const digest = async () => hmac;

function makeSite(files: Record<string, string>, version: string | null = "0.1.0"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-templates-"));
  writeFileSync(path.join(dir, "stepwise.yaml"), "name: t\nplugins: []\ntemplates:\n  source: tpl\n  output: out\n");
  mkdirSync(path.join(dir, "tpl"));
  if (version !== null) writeFileSync(path.join(dir, "tpl/.template-version"), `${version}\n`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, "tpl", name)), { recursive: true });
    writeFileSync(path.join(dir, "tpl", name), text);
  }
  return dir;
}

const stepFor = (dir: string) => createTemplatesStep(parseSite(readFileSync(path.join(dir, "stepwise.yaml"), "utf8"), path.join(dir, "stepwise.yaml")), KNOWN_STEPS, digest);

/** What `run` and `check` see, with only the values a test gives. */
function context(dir: string, values: { config?: Record<string, JsonValue>; secrets?: Record<string, string>; outputs?: Record<string, StepOutputs>; previous?: StepOutputs }): StepContext {
  const log = { info() {}, warn() {}, debug() {}, progress() {} };
  return {
    site: { name: "t", dir, preset: "default" },
    step: "templates",
    config: { get: <T extends JsonValue>(key: string) => values.config?.[key] as T | undefined },
    secrets: { get: (name) => values.secrets?.[name], fingerprint: () => undefined },
    files: { list: () => [], read: async () => Buffer.alloc(0), resolve: (p) => p, digest: () => "" },
    outputs: (step) => values.outputs?.[step] ?? {},
    previousOutputs: values.previous,
    target: { name: "none", ensure: async () => { throw new Error("no target"); }, probe: async () => undefined },
    signal: new AbortController().signal,
    log,
  };
}

describe("templates step", () => {
  it("declares exactly the files, config keys, secrets and upstream steps its templates reference", () => {
    const dir = makeSite({
      ".env": "A=${config.app.name}\nB=${ secret.db_password }\nC=${outputs.database.host}\nD=$${secret.not_an_input}\nE=${HOME}\n",
      "conf/nginx.conf": "server_name ${config.app.domain}; # ${outputs.podman:network.name}\n",
    });
    const step = stepFor(dir);
    expect(step.name).toBe("templates");
    expect(step.dependsOn).toEqual(["database", "podman:network"]);
    expect(step.inputs).toEqual({ files: ["tpl/**"], config: ["app.domain", "app.name"], secrets: ["db_password"] });
    expect(step.description).toBe("render tpl/ (templates 0.1.0) into out/");
  });

  it("renders references, escapes and JSON values; 0600 for files holding a secret, 0644 otherwise", async () => {
    const dir = makeSite({
      ".env": "NAME=${config.app.name}\nPORT=${config.app.port}\nTAGS=${config.app.tags}\nPASSWORD=${secret.db_password}\nHOST=${outputs.database.host}\nLITERAL=$${config.app.name} $${HOME}\nSHELL=${HOME}\nEMPTY=${config.app.unset}\n",
      "conf/nginx.conf": "server_name ${config.app.name};\n",
    });
    const ctx = context(dir, { config: { "app.name": "shop", "app.port": 8080, "app.tags": ["a", "b"] }, secrets: { db_password: "pw-1" }, outputs: { database: { host: "db" } } });
    const outputs = (await stepFor(dir).run(ctx))!;
    expect(readFileSync(path.join(dir, "out/.env"), "utf8")).toBe('NAME=shop\nPORT=8080\nTAGS=["a","b"]\nPASSWORD=pw-1\nHOST=db\nLITERAL=${config.app.name} ${HOME}\nSHELL=${HOME}\nEMPTY=\n');
    expect(statSync(path.join(dir, "out/.env")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "out/conf/nginx.conf")).mode & 0o777).toBe(0o644);
    // Outputs record what was written as keyed digests, never the content.
    expect(outputs).toEqual({ dir: "out", version: "0.1.0", files: { ".env": expect.stringMatching(/^hmac-sha256:/), "conf/nginx.conf": hmac("server_name shop;\n") } });
    expect(JSON.stringify(outputs)).not.toContain("pw-1");
  });

  it("fails naming the file and the command when a referenced secret is not set", async () => {
    const dir = makeSite({ ".env": "P=${secret.smtp_password}\n" });
    await expect(stepFor(dir).run(context(dir, {}))).rejects.toMatchObject({
      code: "SECRET_MISSING",
      message: "tpl/.env needs secret smtp_password, which is not set.",
      hint: "stepwise secrets set smtp_password",
    });
  });

  it("finds a hand edit (check reports drift; run refuses, changes nothing) and a removed file", async () => {
    const dir = makeSite({ "a.conf": "a=${config.a}\n", "b.conf": "b=${config.b}\n" });
    const step = stepFor(dir);
    const previous = (await step.run(context(dir, { config: { a: "1", b: "1" } })))!;
    expect(await step.check!(context(dir, { previous }))).toBeUndefined();

    writeFileSync(path.join(dir, "out/b.conf"), "b=mine\n");
    expect(await step.check!(context(dir, { previous }))).toEqual({ reason: "out/b.conf was edited by hand" });
    await expect(step.run(context(dir, { config: { a: "2", b: "1" }, previous }))).rejects.toMatchObject({
      code: "TEMPLATE_OUTPUT_CHANGED",
      exitCode: 1,
      message: "out/b.conf was changed by hand since stepwise rendered it; it was not overwritten.",
      hint: "move the change into tpl/b.conf (or delete out/b.conf), then: stepwise deploy",
    });
    // a.conf comes first but was not rewritten: the refusal happens before any write.
    expect(readFileSync(path.join(dir, "out/a.conf"), "utf8")).toBe("a=1\n");
    expect(readFileSync(path.join(dir, "out/b.conf"), "utf8")).toBe("b=mine\n");

    // A hand edit that equals what would be rendered is no conflict.
    writeFileSync(path.join(dir, "out/b.conf"), "b=2\n");
    await step.run(context(dir, { config: { a: "1", b: "2" }, previous }));

    const { rmSync } = await import("node:fs");
    rmSync(path.join(dir, "out/a.conf"));
    expect(await step.check!(context(dir, { previous }))).toEqual({ reason: "out/a.conf is missing" });
  });

  it("accepts a plain sha256 record (written before the site had secrets) as its own", async () => {
    const dir = makeSite({ "a.conf": "a=1\n" });
    mkdirSync(path.join(dir, "out"));
    writeFileSync(path.join(dir, "out/a.conf"), "a=0\n");
    const previous = { files: { "a.conf": `sha256:${createHash("sha256").update("a=0\n").digest("hex")}` } };
    const step = stepFor(dir);
    expect(await step.check!(context(dir, { previous }))).toBeUndefined();
    await step.run(context(dir, { previous }));
    expect(readFileSync(path.join(dir, "out/a.conf"), "utf8")).toBe("a=1\n");
  });

  it("removes a rendered file whose template is gone, unless it was edited by hand", async () => {
    const dir = makeSite({ "keep.conf": "k\n", "gone.conf": "g\n", "edited.conf": "e\n" });
    const previous = (await stepFor(dir).run(context(dir, {})))!;
    writeFileSync(path.join(dir, "out/edited.conf"), "mine\n");
    const { rmSync } = await import("node:fs");
    rmSync(path.join(dir, "tpl/gone.conf"));
    rmSync(path.join(dir, "tpl/edited.conf"));
    await stepFor(dir).run(context(dir, { previous }));
    expect(existsSync(path.join(dir, "out/keep.conf"))).toBe(true);
    expect(existsSync(path.join(dir, "out/gone.conf"))).toBe(false);
    expect(readFileSync(path.join(dir, "out/edited.conf"), "utf8")).toBe("mine\n");
  });

  it("applies the version rule with both versions in the error", () => {
    for (const ok of ["0.1.0", "0.1.7", "0.0.3"]) expect(() => stepFor(makeSite({ a: "a" }, ok))).not.toThrow();
    expect(() => stepFor(makeSite({ a: "a" }, "0.2.0"))).toThrow(
      expect.objectContaining({ code: "TEMPLATE_TOO_NEW", exitCode: 2, message: expect.stringMatching(/version 0\.2\.0, but this stepwise \(0\.1\.0\)/) }),
    );
    expect(() => stepFor(makeSite({ a: "a" }, "1.0.0"))).toThrow(expect.objectContaining({ code: "TEMPLATE_TOO_NEW", message: expect.stringContaining("major version 1 differs from 0") }));
    expect(() => stepFor(makeSite({ a: "a" }, "latest"))).toThrow(expect.objectContaining({ code: "TEMPLATE_TOO_NEW" }));
    expect(() => stepFor(makeSite({ a: "a" }, null))).toThrow(expect.objectContaining({ code: "SITE_INVALID", hint: "echo 0.1.0 > tpl/.template-version" }));
  });

  it("refuses a reference to outputs of an unknown step, listing the known ones", () => {
    expect(() => stepFor(makeSite({ a: "${outputs.databse.host}" }))).toThrow(
      expect.objectContaining({ code: "STEP_UNKNOWN", hint: "use ${outputs.STEP.KEY} with one of: database, podman:network" }),
    );
  });
});
