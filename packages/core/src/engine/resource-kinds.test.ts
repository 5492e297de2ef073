import { describe, expect, it } from "vitest";
import type { ConfigReader, StepDefinition, TargetDefinition } from "../contracts.js";
import { createStepContext, type SiteStep } from "../context/step-context.js";
import { declaredResourceKinds, unrealisableKinds } from "./resource-kinds.js";

const config = (values: Record<string, unknown>): ConfigReader => ({ get: (key: string) => values[key] as never });
const target = (name: string, kinds?: TargetDefinition["kinds"]): TargetDefinition => ({ name, description: name, kinds, connect: async () => ({ ensure: async () => ({}) as never, probe: async () => undefined }) });
const step = (name: string, resources: StepDefinition["resources"]) => ({ name, definition: { name, description: name, resources, run: async () => ({}) } as StepDefinition });

describe("resource kinds", () => {
  it("evaluates a step's declaration against the resolved config", () => {
    const database = step("database", (c) => (c.get("redis") === true ? ["postgres", "redis"] : ["postgres"]));
    expect(declaredResourceKinds(database.definition, config({}))).toEqual(["postgres"]);
    expect(declaredResourceKinds(database.definition, config({ redis: true }))).toEqual(["postgres", "redis"]);
    expect(declaredResourceKinds(step("x", undefined).definition, config({}))).toBeUndefined();
  });

  it("reports every step and kind the chosen target lacks, with the site's targets that realise it", () => {
    const local = target("local", ["service", "postgres"]);
    const cloud = target("cloud", ["service", "postgres", "objectStore", "redis"]);
    const problems = unrealisableKinds(
      [step("storage", ["objectStore"]), step("database", ["postgres", "redis"]), step("web", ["service"])],
      local,
      [{ target: local, plugin: "local-plugin" }, { target: cloud, plugin: "cloud-plugin" }],
      config({}),
    );
    expect(problems.map((p) => [p.step, p.message, p.hint, p.exitCode])).toEqual([
      ["storage", "Step storage needs a objectStore resource, which target local does not realise (it realises service, postgres).", expect.stringContaining("(cloud from cloud-plugin)"), 2],
      ["database", "Step database needs a redis resource, which target local does not realise (it realises service, postgres).", expect.stringContaining("(cloud from cloud-plugin)"), 2],
    ]);
    // A target that does not declare its kinds is not checked at plan time.
    expect(unrealisableKinds([step("storage", ["objectStore"])], target("quiet"), [], config({}))).toEqual([]);
  });

  it("ensure refuses a kind the step did not declare, and one the target lacks, before calling the target", async () => {
    const calls: string[] = [];
    const make = (resources: StepDefinition["resources"], kinds: TargetDefinition["kinds"]) => {
      const siteStep: SiteStep = { name: "s", description: "s", pluginId: "p@1", pluginName: "p", definition: step("s", resources).definition, dependsOn: [], inputs: { files: [], config: [], secrets: [] }, foundation: false };
      return createStepContext({
        site: { name: "site", dir: "/nowhere", preset: "default" },
        step: siteStep,
        config: config({}),
        secrets: {} as never,
        files: new Map(),
        upstreamOutputs: () => undefined,
        previousOutputs: undefined,
        target: { name: "t", plugin: "t-plugin@1", kinds, attribute: (e) => e as never, session: async () => ({ ensure: async (spec) => (calls.push(spec.kind), { kind: spec.kind, name: spec.name, id: "x", specHash: "h", change: "created", outputs: {} }), probe: async () => undefined }) },
        signal: new AbortController().signal,
        log: { info() {}, warn() {}, debug() {}, progress() {} },
      });
    };
    const redis = { kind: "redis", name: "cache" } as const;
    await expect(make(["postgres"], undefined).target.ensure(redis)).rejects.toMatchObject({ code: "UNDECLARED_INPUT", message: expect.stringContaining("declares only postgres") });
    await expect(make(undefined, ["postgres"]).target.ensure(redis)).rejects.toMatchObject({ code: "TARGET_UNSUPPORTED", exitCode: 2 });
    expect(calls).toEqual([]);
    await make(undefined, undefined).target.ensure(redis);
    expect(calls).toEqual(["redis"]);
  });
});
