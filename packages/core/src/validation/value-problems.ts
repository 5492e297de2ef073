import type { JsonValue } from "../contracts.js";

/**
 * Validators for `ConfigKeySpec.validate`, shared by plugins: each returns what is wrong with
 * a value, or `undefined`. Pure (no I/O) and never echoes more than the value it was given.
 */

/** An http(s) endpoint URL without credentials in it (config is shown in plans and kept in state). */
export function endpointUrlProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string") return `must be an http(s) URL, got ${JSON.stringify(value)}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an http(s) URL like https://s3.example.com, got ${JSON.stringify(value)}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `must use http or https, got ${url.protocol.slice(0, -1)}`;
  if (url.username !== "" || url.password !== "") return "must not contain a user name or password; keep credentials in secrets";
  return undefined;
}
