import type { JsonValue, StepContext } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";

/** A value counts as set unless it is absent, `null` or the empty string (what `configure` leaves for "no answer"). */
export function isSet(value: JsonValue | undefined): value is Exclude<JsonValue, null> {
  return value !== undefined && value !== null && value !== "";
}

/** `CONFIG_INVALID` (exit 2): `message` about config key `key`, with the commands that fix it. */
export function invalidConfig(message: string, key: string): StepwiseError {
  return errors.configValueInvalid(key, message);
}

/**
 * Reads a config key a step's `run` needs. The engine has resolved and validated it already;
 * checking again keeps `run` safe with a hand-made context and names the key when it is not:
 * an unset key throws `${key} is required` (plus `why`, e.g. "when email.provider is smtp"),
 * a value `problem` objects to throws `${key} ${problem}`. Both `CONFIG_INVALID`, exit 2.
 */
export function requireConfig<T extends JsonValue>(ctx: Pick<StepContext, "config">, key: string, problem?: (value: JsonValue) => string | undefined, why?: string): T {
  const value = ctx.config.get<T>(key);
  if (!isSet(value)) throw invalidConfig(`${key} is required${why ? ` ${why}` : ""}`, key);
  return checkedConfig(key, value, problem) as T;
}

/** `value` of `key` when `problem` finds nothing wrong with it; otherwise throws `CONFIG_INVALID` naming the key. */
export function checkedConfig(key: string, value: JsonValue, problem?: (value: JsonValue) => string | undefined): JsonValue {
  const message = problem?.(value);
  if (message) throw invalidConfig(`${key} ${message}`, key);
  return value;
}
