import type { BackendContext, JsonObject, SecretBackend, StateBackend } from "../contracts.js";
import { vetoPlanMemo } from "../cache/plan-memo.js";
import { errors } from "../errors/error-codes.js";
import { isStepwiseError } from "../errors/stepwise-error.js";
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
      // What another backend reads (a blob, a vault) is not a file a plan can witness.
      vetoPlanMemo(`its ${kind} backend ${name} (${plugin.id}) is not one of core's local files`);
      try {
        return (await factory(options, ctx)) as R;
      } catch (error) {
        if (isStepwiseError(error)) throw error;
        throw errors.backendFailedToStart(kind, name, plugin.id, error);
      }
    }
  }
  throw errors.backendUnknown(kind, name);
}
