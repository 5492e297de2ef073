// `@stepwise/core/testing`: helpers for unit tests of plugin steps. Not loaded by the engine.
export { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "./fake-step-context.js";
export type { FakeContext, FakeContextOptions } from "./fake-step-context.js";
