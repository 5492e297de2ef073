import { randomUUID } from "node:crypto";
import type { StateDocument } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { CORE_VERSION } from "../version.js";

/** Format version this stepwise writes. Older documents are migrated on read. */
export const STATE_VERSION = 1;

export function emptyState(site: string): StateDocument {
  return { stateVersion: STATE_VERSION, serial: 0, lineage: randomUUID(), site, writtenBy: CORE_VERSION, updatedAt: new Date(0).toISOString(), steps: {} };
}

/**
 * Migrations from each older format version to the next. `migrations[n]` turns a version-n
 * document into version n+1. Version 0 was the unversioned prototype: `steps` only.
 */
const migrations: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {
  0: (doc) => ({ serial: 0, lineage: randomUUID(), site: "", writtenBy: "0.0.0", updatedAt: new Date(0).toISOString(), ...doc, stateVersion: 1 }),
};

/** Parses and validates a state document's text; migrates older versions, refuses newer ones. */
export function parseState(text: string, location: string): StateDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw errors.stateCorrupt(location, `not valid JSON (${(error as Error).message})`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw errors.stateCorrupt(location, "not a JSON object");
  let record = doc as Record<string, unknown>;
  let version = typeof record.stateVersion === "number" ? record.stateVersion : 0;
  if (!Number.isInteger(version) || version < 0) throw errors.stateCorrupt(location, `stateVersion ${String(record.stateVersion)} is not a version`);
  if (version > STATE_VERSION) throw errors.stateTooNew(location, version, STATE_VERSION);
  while (version < STATE_VERSION) {
    const migrate = migrations[version];
    if (!migrate) throw errors.stateCorrupt(location, `no migration from stateVersion ${version}`);
    record = migrate(record);
    version = record.stateVersion as number;
  }
  const steps = record.steps;
  if (!steps || typeof steps !== "object" || Array.isArray(steps)) throw errors.stateCorrupt(location, '"steps" is missing or not an object');
  for (const [name, step] of Object.entries(steps as Record<string, unknown>)) {
    const status = (step as { status?: unknown } | null)?.status;
    if (status !== "succeeded" && status !== "failed" && status !== "running") {
      throw errors.stateCorrupt(location, `step "${name}" has status ${JSON.stringify(status)}`);
    }
  }
  return record as unknown as StateDocument;
}
