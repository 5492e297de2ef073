import { describe, expect, it } from "vitest";
import type { PluginDefinition, StepDefinition, TargetDefinition } from "../contracts.js";
import { Redactor } from "../log/redactor.js";
import type { LoadedPlugin } from "../plugins/load-plugins.js";
import { SiteSecrets } from "../secrets/site-secrets.js";
import type { SiteFile } from "../site/load-site.js";
import { LateSecrets, assembleSteps, chooseTarget, narrowResourceKindInputs } from "./assemble-steps.js";

const step = (name: string, more: Partial<StepDefinition> = {}): StepDefinition => ({ name, description: name, run: async () => ({}), ...more });

const plugin = (name: string, definition: Omit<PluginDefinition, "meta">): LoadedPlugin => ({
  name,
  version: "1.0.0",
  root: `/plugins/${name}`,
  coreRange: "^0.1.0",
  id: `${name}@1.0.0`,
  definition: { meta: { name, version: "1.0.0" }, ...definition },
});

const target = (name: string, more: Partial<TargetDefinition> = {}): TargetDefinition => ({
  name,
  description: name,
  connect: async () => {
    throw new Error("not connected in these tests");
  },
  ...more,
});

const site = (more: Partial<SiteFile> = {}): SiteFile => ({
  dir: "/site",
  file: "/site/stepwise.yaml",
  schemaVersion: "1",
  name: "site",
  preset: "default",
  plugins: [],
  target: undefined,
  state: { backend: "file", options: {} },
  secrets: { backend: "age", options: {} },
  config: new Map(),
  steps: {},
  templates: undefined,
  services: {},
  jobs: {},
  locate: (yamlPath) => `stepwise.yaml:${yamlPath.join(".")}`,
  ...more,
});

const assemble = (s: SiteFile, plugins: LoadedPlugin[]) => assembleSteps(s, plugins, chooseTarget(s, plugins), new LateSecrets());

describe("assembleSteps", () => {
  const podman = plugin("target-fake", { targets: [target("fake", { steps: [step("fake:network"), step("fake:volume", { dependsOn: ["fake:network"] })], config: { "fake.socket": { description: "socket", connection: true }, "fake.prefix": { description: "prefix" } } })] });

  it("every step depends on the target's foundation steps; foundation steps only on what they declare", () => {
    const app = plugin("app-plugin", { steps: [step("database"), step("app", { dependsOn: ["database"] })] });
    const { steps, disabled, problems } = assemble(site({ services: { web: { image: "nginx" } } }), [app, podman]);
    expect([...steps.keys()]).toEqual(["database", "app", "fake:network", "fake:volume", "service:web"]);
    expect(steps.get("app")!.dependsOn).toEqual(["database", "fake:network", "fake:volume"]);
    expect(steps.get("service:web")!.dependsOn).toEqual(expect.arrayContaining(["fake:network", "fake:volume"]));
    expect(steps.get("fake:volume")!.dependsOn).toEqual(["fake:network"]);
    expect(steps.get("fake:network")!.foundation).toBe(true);
    expect(steps.get("database")).toMatchObject({ foundation: false, pluginId: "app-plugin@1.0.0", pluginName: "app-plugin" });
    expect(steps.get("service:web")).toMatchObject({ pluginName: "@stepwise/core", siteInput: { key: "services.web" } });
    expect(disabled).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("connection keys are never inputs: the target's on foundation steps, a step's own", () => {
    const app = plugin("app-plugin", {
      steps: [step("api", { config: { "api.url": { description: "u", connection: true }, "api.name": { description: "n" } }, inputs: { config: ["shared.key"], secrets: ["b"] }, secrets: { a: { description: "a" } } })],
    });
    const { steps } = assemble(site(), [app, podman]);
    expect(steps.get("fake:network")!.inputs.config).toEqual(["fake.prefix"]);
    expect(steps.get("fake:network")!.connectionConfig).toEqual(["fake.socket"]);
    expect(steps.get("api")!.inputs).toEqual({ files: [], config: ["api.name", "shared.key"], secrets: ["a", "b"] });
    expect(steps.get("api")!.connectionConfig).toEqual(["api.url"]);
  });

  it("a target key with a resourceKind is an input of the steps that ask for that kind, not of the foundation", () => {
    const sized = plugin("target-sized", {
      targets: [target("fake", { steps: [step("fake:network")], config: { "fake.prefix": { description: "p" }, "fake.redis.size": { description: "s", resourceKind: "redis" }, "fake.pg.tier": { description: "t", resourceKind: "postgres" }, "fake.odd": { description: "o", resourceKind: "redis", connection: true } } })],
    });
    const app = plugin("app-plugin", {
      steps: [
        step("cache", { resources: ["redis"] }),
        step("database", { resources: (config) => (config.get("x") ? ["postgres", "redis"] : ["postgres"]) }),
        step("mail", { resources: [] }),
        step("other"),
      ],
    });
    const s = site();
    const chosen = chooseTarget(s, [app, sized]);
    const { steps } = assembleSteps(s, [app, sized], chosen, new LateSecrets());
    expect(steps.get("fake:network")!.inputs.config).toEqual(["fake.prefix"]);
    expect(steps.get("fake:network")!.connectionConfig).toEqual(["fake.odd"]);
    expect(steps.get("cache")!.inputs.config).toEqual(["fake.redis.size"]);
    expect(steps.get("mail")!.inputs.config).toEqual([]);
    // A step that does not say may ask for any kind: every kind's keys (a wrong skip costs more than a re-run).
    expect(steps.get("other")!.inputs.config).toEqual(["fake.pg.tier", "fake.redis.size"]);
    // A function gets every kind's keys until config is known, then those of the kinds it asks for.
    expect(steps.get("database")!.inputs.config).toEqual(["fake.pg.tier", "fake.redis.size"]);
    const config = (values: Record<string, unknown>) => ({ get: (key: string) => values[key], has: (key: string) => key in values }) as never;
    narrowResourceKindInputs(steps.values(), chosen, config({}));
    expect(steps.get("database")!.inputs.config).toEqual(["fake.pg.tier"]);
    expect(steps.get("other")!.inputs.config).toEqual(["fake.pg.tier", "fake.redis.size"]);
    const again = assembleSteps(s, [app, sized], chosen, new LateSecrets()).steps;
    narrowResourceKindInputs(again.values(), chosen, config({ x: true }));
    expect(again.get("database")!.inputs.config).toEqual(["fake.pg.tier", "fake.redis.size"]);
  });

  it("a step defined twice is STEP_DUPLICATE naming both definers", () => {
    const one = plugin("one", { steps: [step("database")] });
    const two = plugin("two", { steps: [step("database")] });
    expect(() => assemble(site(), [one, two])).toThrow(expect.objectContaining({ code: "STEP_DUPLICATE", message: expect.stringContaining("by one@1.0.0 and by two@1.0.0") }));
  });

  it("an optional step turned off is listed apart; a required one cannot be turned off", () => {
    const app = plugin("app-plugin", { steps: [step("telemetry", { required: false }), step("database")] });
    const { steps, disabled } = assemble(site({ steps: { telemetry: { enabled: false } } }), [app]);
    expect([...steps.keys()]).toEqual(["database"]);
    expect(disabled.map((s) => s.name)).toEqual(["telemetry"]);
    expect(() => assemble(site({ steps: { database: { enabled: false } } }), [app])).toThrow(expect.objectContaining({ code: "SITE_INVALID", message: expect.stringContaining("step database is required and cannot be disabled") }));
  });

  it("depending on a disabled step, or naming an unknown one under steps:, is refused naming the step", () => {
    const app = plugin("app-plugin", { steps: [step("telemetry", { required: false }), step("app", { dependsOn: ["telemetry"] })] });
    expect(() => assemble(site({ steps: { telemetry: { enabled: false } } }), [app])).toThrow(expect.objectContaining({ code: "STEP_DISABLED_DEPENDENCY", step: "app", message: expect.stringContaining("depends on telemetry, which is disabled") }));
    expect(() => assemble(site({ steps: { telemtry: { dependsOn: [] } } }), [app])).toThrow(expect.objectContaining({ code: "STEP_UNKNOWN", message: expect.stringContaining("telemtry") }));
  });

  it("steps: dependsOn adds to a step's own dependencies", () => {
    const app = plugin("app-plugin", { steps: [step("a"), step("b"), step("c", { dependsOn: ["a"] })] });
    expect(assemble(site({ steps: { c: { dependsOn: ["b", "a"] } } }), [app]).steps.get("c")!.dependsOn).toEqual(["a", "b"]);
  });
});

describe("chooseTarget", () => {
  it("takes the only target, the one target: names, and refuses a choice it cannot make", () => {
    const one = plugin("t1", { targets: [target("one")] });
    const two = plugin("t2", { targets: [target("two")] });
    expect(chooseTarget(site(), [one])?.definition.name).toBe("one");
    expect(chooseTarget(site(), [])).toBeUndefined();
    expect(chooseTarget(site({ target: "two" }), [one, two])?.plugin.name).toBe("t2");
    expect(() => chooseTarget(site(), [one, two])).toThrow(expect.objectContaining({ code: "TARGET_MISSING", hint: "add target: one to stepwise.yaml" }));
    expect(() => chooseTarget(site({ target: "three" }), [one, two])).toThrow(expect.objectContaining({ code: "TARGET_MISSING", message: expect.stringContaining("(available: one, two)") }));
  });
});

describe("LateSecrets", () => {
  it("refuses to digest before it is bound, then digests with the bound secrets", async () => {
    const late = new LateSecrets();
    await expect(late.digest()).rejects.toThrow(/before its session was open/);
    const secrets = await SiteSecrets.open({ description: "memory", readAll: async () => new Map(), setMany: async () => {} }, new Redactor());
    late.bind(async () => secrets);
    expect((await late.digest())("text")).toBe(secrets.digest("text"));
  });
});
