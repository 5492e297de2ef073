import { isIP } from "node:net";
import type { JsonValue } from "@stepwise/core";

/** Value rules for storage settings, in the shape `ConfigKeySpec.validate` wants. Pure, never throw. */

/** Longest retention accepted: a typo of 3650 as 36500 still fits, 10^6 days does not. */
export const MAX_EXPIRATION_DAYS = 36_500;

export function expirationDaysProblem(value: JsonValue): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_EXPIRATION_DAYS) {
    return `must be a whole number of days from 1 to ${MAX_EXPIRATION_DAYS}, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/**
 * Amazon S3's general purpose bucket naming rules, which S3-compatible stores (MinIO, Azurite's
 * blob containers modulo dots) accept too: 3-63 lowercase letters, digits, dots and hyphens,
 * starting and ending with a letter or digit, no `..`, not shaped like an IP address.
 */
export function bucketNameProblem(value: JsonValue): string | undefined {
  const rule = "3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit";
  if (typeof value !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) || value.includes("..")) {
    return `must be a bucket name of ${rule}, got ${JSON.stringify(value)}`;
  }
  if (isIP(value) !== 0) return `must not look like an IP address, got ${JSON.stringify(value)}`;
  return undefined;
}

/** Re-exported from core, where the plugins share it. */
export { endpointUrlProblem } from "@stepwise/core";
