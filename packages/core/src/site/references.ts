import type { JsonValue } from "../contracts.js";

/** The longest known step name that prefixes `refPath` (step names may contain dots or colons). */
export function stepOfReference(refPath: string, knownSteps: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  for (const step of knownSteps) if (refPath.startsWith(`${step}.`) && (!best || step.length > best.length)) best = step;
  return best;
}

/** The value at a dot path inside step outputs. */
export function digOutputs(value: JsonValue | undefined, keyPath: string): JsonValue | undefined {
  let current = value;
  for (const key of keyPath.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** How a referenced value is written into text: strings as they are, anything else as JSON. */
export function referenceText(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
