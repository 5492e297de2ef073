import type { BackendContext, JsonObject, SecretBackend, StateBackend } from "../contracts.js";
import { ErrorCode } from "../errors/error-codes.js";
import { StepwiseError, isStepwiseError } from "../errors/stepwise-error.js";
import type { LoadedPlugin } from "../plugins/load-plugins.js";
import { createAgeSecretBackend } from "../secrets/age-secret-backend.js";
import { createFileStateBackend } from "../state/file-state-backend.js";

/**
 * The state or secrets backend `name`: built in (`file`, `age`) or from the first listed plugin
 * that provides it. A plugin factory's plain error becomes PLUGIN_ERROR naming the plugin; an
 * unknown name is `*_BACKEND_UNKNOWN` saying which plugin to list.
 */
export async function createBackend<K extends "state" | "secrets">(
  kind: K,
  name: string,
  options: JsonObject,
  plugins: readonly LoadedPlugin[],
  ctx: BackendContext,
): Promise<K extends "state" ? StateBackend : SecretBackend> {
  type R = K extends "state" ? StateBackend : SecretBackend;
  if (kind === "state" && name === "file") return createFileStateBackend(options, ctx) as R;
  if (kind === "secrets" && name === "age") return createAgeSecretBackend(options, ctx) as R;
  for (const plugin of plugins) {
    const factories = kind === "state" ? plugin.definition.stateBackends : plugin.definition.secretBackends;
    const factory = factories?.[name];
    if (factory) {
      try {
        return (await factory(options, ctx)) as R;
      } catch (error) {
        if (isStepwiseError(error)) throw error;
        throw new StepwiseError(ErrorCode.PluginError, `${kind} backend ${name} of ${plugin.id} failed to start: ${(error as Error).message}`, {
          plugin: plugin.id,
          hint: `check ${kind}.options in stepwise.yaml`,
        });
      }
    }
  }
  throw new StepwiseError(
    kind === "state" ? ErrorCode.StateBackendUnknown : ErrorCode.SecretBackendUnknown,
    `${kind}.backend "${name}" is not built in (${kind === "state" ? "file" : "age"}) and no listed plugin provides it.`,
    { hint: name === "azblob" ? "npm install @stepwise/target-azure and list it under plugins:" : `list the plugin that provides the ${name} backend under plugins:` },
  );
}
