// Type tests of the public entry points, checked by `tsc -p packages/core/type-tests` (run by
// packages/core/src/type-tests.test.ts). Each `@ts-expect-error` must meet an error, or tsc
// fails with "unused directive": what must not compile is tested as much as what must.
import {
  definePlugin,
  defineStep,
  defineTarget,
  isSet,
  requireConfig,
  StepwiseError,
  type ResourceResult,
  type StepContext,
  type TargetSession,
} from "@stepwise/core";
import { deploySite, SiteSession } from "@stepwise/core/engine";
import { createFakeStepContext } from "@stepwise/core/testing";

// A step: plain object literal, typed by the identity helper.
export const step = defineStep({
  name: "cache",
  description: "a cache",
  config: { "cache.size": { description: "MB", type: "integer", default: 64 } },
  resources: (config) => (config.get("cache.size") === 0 ? [] : ["redis"]),
  async run(ctx) {
    const size = requireConfig<number>(ctx, "cache.size");
    const redis = await ctx.target.ensure({ kind: "redis", name: "cache" });
    // Outputs are typed per kind: a number, on every target.
    const port: number = redis.outputs.port;
    // @ts-expect-error a redis result has no databases
    redis.outputs.databases.length;
    const postgres = await ctx.target.ensure({ kind: "postgres", name: "db", databases: ["app"], user: "app", passwordSecret: "pw" });
    const databases: string[] = postgres.outputs.databases;
    // @ts-expect-error no such resource kind
    await ctx.target.ensure({ kind: "mainframe", name: "x" });
    return { size, port, databases: databases.length, set: isSet(size) };
  },
});

defineStep({
  name: "typo",
  description: "resources must be kinds",
  // @ts-expect-error "postgresql" is not a resource kind
  resources: ["postgresql"],
  async run() {},
});

// @ts-expect-error a step needs run
defineStep({ name: "no-run", description: "x" });

// A target declares its kinds and a session.
export const target = defineTarget({
  name: "local",
  description: "x",
  kinds: ["service", "redis"],
  config: { "local.socket": { description: "how it is reached", connection: true } },
  async connect(): Promise<TargetSession> {
    return {
      async ensure(spec): Promise<ResourceResult> {
        throw new StepwiseError("LOCAL_UNSUPPORTED", `cannot make ${spec.kind}`, { exitCode: 2, hint: "use another target" });
      },
      async probe() {},
    };
  },
});

defineTarget({
  name: "bad",
  description: "x",
  // @ts-expect-error kinds are resource kinds
  kinds: ["vm"],
  async connect(): Promise<TargetSession> {
    throw new Error("x");
  },
});

// A plugin: an object, or a factory taking the site's options.
export default definePlugin((options: { size?: number }) => ({ meta: { name: "stepwise-plugin-cache", version: "1.0.0" }, steps: [step], targets: [target], ...(options.size ? {} : {}) }));
definePlugin({ meta: { name: "x", version: "1.0.0" }, steps: [step] });
// @ts-expect-error meta needs a version
definePlugin({ meta: { name: "x" }, steps: [step] });

// The engine is a separate entry point for programs; the contract does not carry it.
export async function program(dir: string): Promise<number> {
  const session = await SiteSession.open({ dir });
  const result = await deploySite(session, { concurrency: 2 });
  return result.ran.length;
}
// @ts-expect-error SiteSession is engine API, not part of the plugin contract
import type { SiteSession as NotInContract } from "@stepwise/core";
// @ts-expect-error internals are exported nowhere
import type { FileHashCache } from "@stepwise/core/engine";

// The testing entry: a fake context that refuses undeclared inputs, typed like the real one.
export async function unitTest(): Promise<void> {
  const { ctx, ensured } = createFakeStepContext(step, { config: { "cache.size": 32 } });
  const context: StepContext = ctx;
  await step.run(context);
  const first: string = ensured[0]!.kind;
  void first;
}
export type { NotInContract, FileHashCache };
