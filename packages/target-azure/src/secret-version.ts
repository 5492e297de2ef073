import { createHash } from "node:crypto";
import type { TargetCallScope } from "@stepwise/core";
import { azureErrors } from "./errors.js";

/**
 * A secret's value for the request body that sets it, and a version derived from its HMAC
 * fingerprint (reveals nothing about the value) to tag what holds it: a different version means
 * the value was rotated and must be written again.
 */
export function secretVersion(scope: TargetCallScope, secret: string): { value: string; version: string } {
  const fingerprint = scope.secrets.fingerprint(secret);
  const value = scope.secrets.get(secret);
  if (fingerprint === undefined || value === undefined || value === "") throw azureErrors.secretMissing(secret, scope.step);
  return { value, version: createHash("sha256").update(fingerprint).digest("hex").slice(0, 16) };
}
