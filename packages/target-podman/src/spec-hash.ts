import { createHash } from "node:crypto";

/**
 * Bumped when the shape of what this target creates changes (labels aside), so that an
 * upgrade of the plugin replaces containers made the old way exactly once.
 */
export const RECIPE_VERSION = 1;

/** JSON with object keys sorted at every level, `undefined` members dropped. Stable across runs. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortDeep(member);
    }
    return out;
  }
  return value;
}

/** sha256 (hex) of the canonical JSON of `value`. */
export function specHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson({ recipe: RECIPE_VERSION, value })).digest("hex");
}
