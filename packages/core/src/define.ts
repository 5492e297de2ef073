import type { PluginDefinition, PluginFactory, StepDefinition, TargetDefinition, JsonObject } from "./contracts.js";

/**
 * Identity helpers: they return their argument unchanged and exist so plugin authors get
 * type checking and editor completion on plain object literals (as Vite's `defineConfig`).
 */
export function definePlugin<T extends PluginDefinition>(plugin: T): T;
export function definePlugin<O extends JsonObject>(factory: (options: O) => PluginDefinition): PluginFactory;
export function definePlugin(plugin: PluginDefinition | PluginFactory): PluginDefinition | PluginFactory {
  return plugin;
}

export function defineStep<T extends StepDefinition>(step: T): T {
  return step;
}

export function defineTarget<T extends TargetDefinition>(target: T): T {
  return target;
}
