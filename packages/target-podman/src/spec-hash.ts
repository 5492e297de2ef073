import { createHash } from "node:crypto";
import { canonicalJson } from "@stepwise/core";

/**
 * Bumped when the shape of what this target creates changes (labels aside), so that an
 * upgrade of the plugin replaces containers made the old way exactly once.
 */
export const RECIPE_VERSION = 1;

/** sha256 (hex) of the canonical JSON of `value`. */
export function specHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson({ recipe: RECIPE_VERSION, value })).digest("hex");
}
