import { describe, expect, it } from "vitest";
import { createStepContext, type SiteStep, type StepContextDeps } from "./step-context.js";

const siteStep: SiteStep = {
  name: "web",
  description: "web",
  pluginId: "p@1.0.0",
  pluginName: "p",
  definition: { name: "web", description: "web", run: async () => ({}) },
  dependsOn: ["database"],
  inputs: { files: [], config: [], secrets: [] },
  foundation: false,
};

function context(overrides: Partial<StepContextDeps>) {
  return createStepContext({
    site: { name: "site", dir: "/nowhere", preset: "default" },
    step: siteStep,
    config: { get: () => undefined },
    secrets: {} as never,
    files: new Map(),
    upstreamOutputs: () => undefined,
    previousOutputs: undefined,
    target: undefined,
    signal: new AbortController().signal,
    log: { info() {}, warn() {}, debug() {}, progress() {} },
    ...overrides,
  });
}

describe("step context errors", () => {
  it("outputs of a declared upstream that has not completed are STEP_OUTPUTS_MISSING naming both steps", () => {
    expect(() => context({}).outputs("database")).toThrow(
      expect.objectContaining({ code: "STEP_OUTPUTS_MISSING", exitCode: 2, step: "web", message: "Step web needs outputs of database, which has not completed." }),
    );
    expect(context({ upstreamOutputs: () => ({ host: "db" }) }).outputs("database")).toEqual({ host: "db" });
  });

  it("a resource asked of a site without a target is TARGET_MISSING; a target that cannot be connected to is TARGET_UNREACHABLE", async () => {
    const spec = { kind: "postgres", name: "app" } as const;
    await expect(context({}).target.ensure(spec)).rejects.toMatchObject({ code: "TARGET_MISSING", step: "web", message: expect.stringContaining("asks for a postgres resource") });
    const unreachable = context({
      target: { name: "podman", plugin: "t@1.0.0", attribute: (e) => e as never, session: () => Promise.reject(new Error("connect ECONNREFUSED /run/podman.sock")) },
    });
    await expect(unreachable.target.ensure(spec)).rejects.toMatchObject({
      code: "TARGET_UNREACHABLE",
      exitCode: 2,
      step: "web",
      message: "Cannot connect to target podman: connect ECONNREFUSED /run/podman.sock",
    });
  });
});
