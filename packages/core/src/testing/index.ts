// `@stepwise/core/testing`: helpers for unit tests of plugin steps and the conformance kit. Not loaded by the engine.
export { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "./fake-step-context.js";
export type { FakeContext, FakeContextOptions } from "./fake-step-context.js";
export { PluginConformanceError, checkPlugin, conformanceChecks, describePlugin } from "./plugin-tester.js";
export type { ConformanceCheck, PluginTesterOptions, StepCase, TestHooks } from "./plugin-tester.js";
