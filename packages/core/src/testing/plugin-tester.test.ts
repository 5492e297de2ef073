import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PluginDefinition, StepDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { CORE_VERSION } from "../version.js";
import { createFakeStepContext } from "./fake-step-context.js";
import { checkPlugin, describePlugin, type PluginTesterOptions } from "./plugin-tester.js";

const pkg = { name: "stepwise-step-greeting", version: "1.2.3", keywords: ["stepwise-plugin"], peerDependencies: { "@stepwise/core": `^${CORE_VERSION}` } };

/** A well-behaved step: a config key, a generated secret handed on by name, a file input. */
const greeting: StepDefinition = {
  name: "greeting",
  description: "writes a greeting",
  inputs: { files: ["greeting/**", "!greeting/draft.txt"] },
  config: { "greeting.name": { description: "who to greet", default: "world" } },
  secrets: { greeting_token: { description: "token", generate: { length: 24 } } },
  resources: ["secret"],
  async run(ctx) {
    const files = ctx.files.list();
    const text = files.length ? (await ctx.files.read(files[0]!)).toString("utf8").trim() : "";
    await ctx.target.ensure({ kind: "secret", name: "greeting_token" });
    ctx.log.info(`greeting ${String(ctx.config.get("greeting.name"))}`);
    return { message: `${text} ${String(ctx.config.get("greeting.name"))}`, files: [...files], tokenSet: ctx.secrets.get("greeting_token") !== undefined };
  },
};

const pluginWith = (step: Partial<StepDefinition>, meta = { name: pkg.name, version: pkg.version }): PluginDefinition => ({ meta, steps: [{ ...greeting, ...step }] });
const options = (plugin: unknown, extra: Partial<PluginTesterOptions> = {}): PluginTesterOptions => ({
  plugin,
  packageJson: pkg,
  cases: [{ name: "greets from a file", step: "greeting", files: { "greeting/hello.txt": "hello\n", "greeting/draft.txt": "x" } }],
  ...extra,
});

describe("checkPlugin", () => {
  it("passes a plugin that keeps the contract, given as a factory", async () => {
    await expect(checkPlugin(options(() => pluginWith({})))).resolves.toBeUndefined();
  });

  it("refuses meta that disagrees with package.json, a missing keyword and core in dependencies", async () => {
    const bad = { ...pkg, keywords: [], dependencies: { "@stepwise/core": "^0.1.0" } };
    const error = await checkPlugin(options(pluginWith({}, { name: "other", version: "1.2.3" }), { packageJson: bad })).catch((e: Error) => e);
    expect(error?.message).toContain('meta.name is "other" but package.json names "stepwise-step-greeting"');
    expect(error?.message).toContain('keywords lack "stepwise-plugin"');
    expect(error?.message).toContain("@stepwise/core is in dependencies");
  });

  it("refuses a core range this core does not satisfy", async () => {
    const old = { ...pkg, peerDependencies: { "@stepwise/core": "^999.0.0" } };
    await expect(checkPlugin(options(pluginWith({}), { packageJson: old }))).rejects.toThrow(`"^999.0.0" does not accept this core (${CORE_VERSION})`);
  });

  it("reports a read of an undeclared config key as an inputs problem", async () => {
    const sneaky = pluginWith({ run: async (ctx) => ({ other: String(ctx.config.get("email.provider")) }) });
    await expect(checkPlugin(options(sneaky))).rejects.toThrow(/declared inputs do not cover what run reads: Step greeting read config "email.provider"/);
  });

  it("reports a secret value in outputs and logs", async () => {
    const leaky = pluginWith({
      run: async (ctx) => {
        ctx.log.debug(`token ${ctx.secrets.get("greeting_token")}`);
        return { token: ctx.secrets.get("greeting_token") ?? "" };
      },
    });
    const error = await checkPlugin(options(leaky)).catch((e: Error) => e);
    expect(error?.message).toContain("the value of secret greeting_token appears in the outputs");
    expect(error?.message).toContain("the value of secret greeting_token appears in the logs");
  });

  it("reports a run whose second pass gives other outputs or specs", async () => {
    let runs = 0;
    const volatile = pluginWith({ run: async () => ({ run: ++runs }) });
    await expect(checkPlugin(options(volatile))).rejects.toThrow(/not idempotent: a second run returned other outputs/);
    const growing = pluginWith({ run: async (ctx) => void (await ctx.target.ensure({ kind: "secret", name: `s${++runs}` })) });
    await expect(checkPlugin(options(growing))).rejects.toThrow(/asked the target for other resources/);
  });

  it("reports a check that sees drift right after run", async () => {
    const drifting = pluginWith({ check: async () => ({ reason: "always gone" }) });
    await expect(checkPlugin(options(drifting))).rejects.toThrow("check reports drift right after run, with nothing changed: always gone");
  });

  it("checks an expected error: its message, no secret in it, attributed to plugin and step", async () => {
    const failing = pluginWith({
      run: async (ctx) => {
        throw new Error(`cannot greet with ${ctx.secrets.get("greeting_token")}`);
      },
    });
    const cases = [
      { name: "works", step: "greeting" },
      { name: "fails", step: "greeting", error: /cannot greet/ },
    ];
    const error = await checkPlugin(options(failing, { cases })).catch((e: Error) => e);
    expect(error?.message).toContain("the value of secret greeting_token appears in the error");
    const clean = pluginWith({
      run: async (ctx) => {
        if (ctx.config.get("greeting.name") === "nobody") throw new Error("cannot greet nobody");
        return {};
      },
    });
    const cleanCases = [
      { name: "works", step: "greeting" },
      { name: "fails", step: "greeting", config: { "greeting.name": "nobody" }, error: "cannot greet nobody" },
    ];
    await expect(checkPlugin(options(clean, { cases: cleanCases }))).resolves.toBeUndefined();
    await expect(checkPlugin(options(clean, { cases: [{ name: "works", step: "greeting", error: "boom" }] }))).rejects.toThrow(/run succeeded, expected it to fail/);
  });

  it("wants a succeeding case for every step and no case for an unknown step", async () => {
    const error = await checkPlugin(options(pluginWith({}), { cases: [{ name: "x", step: "nope" }] })).catch((e: Error) => e);
    expect(error?.message).toContain("step greeting has no case that runs it successfully");
    expect(error?.message).toContain('case "x" names step nope, which the plugin does not have');
  });

  it("refuses a default export that is not a plugin", async () => {
    await expect(checkPlugin(options({ steps: [] }))).rejects.toThrow("meta: { name, version } is missing");
  });
});

describe("describePlugin", () => {
  it("registers one named test per check with the hooks it is given", async () => {
    const registered: { suite: string; tests: { name: string; body: () => Promise<void> }[] } = { suite: "", tests: [] };
    describePlugin(options(pluginWith({ check: async () => ({ reason: "gone" }) })), {
      describe: (name, body) => {
        registered.suite = name;
        body();
      },
      it: (name, body) => registered.tests.push({ name, body }),
    });
    expect(registered.suite).toBe("stepwise-step-greeting conforms to the stepwise plugin contract");
    expect(registered.tests.map((t) => t.name)).toEqual([
      "has the shape of a plugin",
      "is named, versioned and compatible after its package.json",
      "has a succeeding case for every step",
      "greeting: greets from a file",
    ]);
    await expect(registered.tests[3]!.body()).rejects.toThrow("check reports drift");
  });
});

describe("createFakeStepContext with a site directory", () => {
  const siteDir = mkdtempSync(path.join(os.tmpdir(), "stepwise-fake-ctx-"));
  afterAll(() => rmSync(siteDir, { recursive: true, force: true }));
  mkdirSync(path.join(siteDir, "greeting", "node_modules"), { recursive: true });
  writeFileSync(path.join(siteDir, "greeting", "b.txt"), "b");
  writeFileSync(path.join(siteDir, "greeting", "a.txt"), "a");
  writeFileSync(path.join(siteDir, "greeting", "draft.txt"), "draft");
  writeFileSync(path.join(siteDir, "greeting", "node_modules", "x.txt"), "x");
  writeFileSync(path.join(siteDir, "other.txt"), "other");

  it("lists and reads the declared files, sorted, and names the site dir", async () => {
    const { ctx } = createFakeStepContext(greeting, { siteDir, siteName: "mine" });
    expect(ctx.site).toEqual({ name: "mine", dir: siteDir, preset: "default" });
    expect(ctx.files.list()).toEqual(["greeting/a.txt", "greeting/b.txt"]);
    expect((await ctx.files.read("./greeting/b.txt")).toString()).toBe("b");
    expect(ctx.files.resolve("greeting/a.txt")).toBe(path.join(siteDir, "greeting", "a.txt"));
  });

  it("digest changes with a declared file's contents", () => {
    const before = createFakeStepContext(greeting, { siteDir }).ctx.files.digest();
    writeFileSync(path.join(siteDir, "greeting", "a.txt"), "changed");
    expect(createFakeStepContext(greeting, { siteDir }).ctx.files.digest()).not.toBe(before);
  });

  it("refuses undeclared files, config, secrets and outputs as the engine does", async () => {
    const { ctx } = createFakeStepContext(greeting, { siteDir, plugin: "stepwise-step-greeting@1.2.3" });
    const engine = errors.undeclaredInput("greeting", "stepwise-step-greeting@1.2.3", "files", "other.txt");
    await expect(ctx.files.read("other.txt")).rejects.toMatchObject({ code: "UNDECLARED_INPUT", message: engine.message, hint: engine.hint });
    await expect(ctx.files.read("greeting/draft.txt")).rejects.toMatchObject({ code: "UNDECLARED_INPUT" });
    expect(() => ctx.config.get("email.provider")).toThrow(errors.undeclaredInput("greeting", "stepwise-step-greeting@1.2.3", "config", "email.provider").message);
    expect(() => ctx.secrets.get("db_password")).toThrow('read secrets "db_password" without declaring it in inputs.secrets');
    expect(() => ctx.outputs("database")).toThrow('read output of step "database" without declaring it');
  });

  it("refuses a resource kind the step did not declare, before the target sees it", async () => {
    const { ctx, ensured } = createFakeStepContext(greeting, { siteDir });
    await expect(ctx.target.ensure({ kind: "redis", name: "r" })).rejects.toMatchObject({ code: "UNDECLARED_INPUT" });
    expect(ensured).toEqual([]);
  });

  it("without a site directory lists no files", () => {
    expect(createFakeStepContext(greeting).ctx.files.list()).toEqual([]);
  });
});
