import { nodeCrypto } from "../fingerprint/node-crypto.js";
import type { StateDocument } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { sha256 } from "../fingerprint/compute-input-fingerprint.js";
import { CORE_VERSION } from "../version.js";

/** Format version this stepwise writes. Older documents are migrated on read. */
export const STATE_VERSION = 3;

export function emptyState(site: string): StateDocument {
  return { stateVersion: STATE_VERSION, serial: 0, lineage: nodeCrypto().randomUUID(), site, writtenBy: CORE_VERSION, updatedAt: new Date(0).toISOString(), steps: {} };
}

/**
 * Migrations from each older format version to the next. `migrations[n]` turns a version-n
 * document into version n+1. Version 0 was the unversioned prototype: `steps` only.
 */
const migrations: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {
  0: (doc) => ({ serial: 0, lineage: nodeCrypto().randomUUID(), site: "", writtenBy: "0.0.0", updatedAt: new Date(0).toISOString(), ...doc, stateVersion: 1 }),
  // Version 2 keeps a step's `file:` entries as one `files` string (StepFiles.encode).
  1: (doc) => {
    const steps = doc.steps;
    if (!steps || typeof steps !== "object" || Array.isArray(steps)) return { ...doc, stateVersion: 2 };
    const migrated: Record<string, unknown> = {};
    for (const [name, step] of Object.entries(steps as Record<string, unknown>)) {
      const entries = (step as { entries?: unknown } | null)?.entries;
      if (!entries || typeof entries !== "object" || Array.isArray(entries)) {
        migrated[name] = step;
        continue;
      }
      const kept: Record<string, unknown> = {};
      const files: [string, string][] = [];
      for (const [key, value] of Object.entries(entries)) {
        if (key.startsWith("file:")) files.push([key.slice("file:".length), String(value)]);
        else kept[key] = value;
      }
      files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const encoded = new StepFiles(files.map(([file]) => file), files.map(([, id]) => id)).encode();
      migrated[name] = { ...(step as object), entries: kept, ...(files.length > 0 ? { files: encoded } : {}) };
    }
    return { ...doc, steps: migrated, stateVersion: 2 };
  },
  // Version 3 keeps the content address of a step's listing (`filesRef`); the listing itself
  // moves to the object store. A migrated record keeps it inline until the next save stores it.
  2: (doc) => {
    const steps = doc.steps;
    if (!steps || typeof steps !== "object" || Array.isArray(steps)) return { ...doc, stateVersion: 3 };
    const migrated: Record<string, unknown> = {};
    for (const [name, step] of Object.entries(steps as Record<string, unknown>)) {
      const files = (step as { files?: unknown } | null)?.files;
      migrated[name] = typeof files === "string" ? { ...(step as object), filesRef: sha256(files) } : step;
    }
    return { ...doc, steps: migrated, stateVersion: 3 };
  },
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
      const found = status === undefined ? "no status" : `status ${JSON.stringify(status)}`;
      throw errors.stateCorrupt(location, `step "${name}" has ${found} (expected "succeeded", "failed" or "running")`);
    }
    const files = (step as { files?: unknown }).files;
    if (files !== undefined && typeof files !== "string") throw errors.stateCorrupt(location, `step "${name}" has "files" that is not a string`);
    const filesRef = (step as { filesRef?: unknown }).filesRef;
    if (filesRef !== undefined && (typeof filesRef !== "string" || !/^[0-9a-f]{64}$/.test(filesRef))) {
      throw errors.stateCorrupt(location, `step "${name}" has "filesRef" that is not a sha256 hex digest`);
    }
  }
  return record as unknown as StateDocument;
}
