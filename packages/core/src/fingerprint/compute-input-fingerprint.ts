import { nodeCrypto } from "./node-crypto.js";
import type { JsonValue } from "../contracts.js";
import type { StepFiles } from "./step-files.js";

/**
 * Input entries of one step: `file:<path>`, `config:<key>`, `secret:<name>`, `step:<name>`,
 * `plugin:<name>` -> a hex hash. Paths are relative to the site (POSIX separators), so a
 * fingerprint is the same on every machine.
 */
export type InputEntries = Record<string, string>;

export function sha256(data: string | Uint8Array): string {
  return nodeCrypto().createHash("sha256").update(data).digest("hex");
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).filter((k) => object[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`).join(",")}}`;
}

export function hashJson(value: JsonValue | undefined): string {
  return sha256(canonicalJson(value));
}

/**
 * One sha256 over the entries sorted by key. Order-independent by construction; any added,
 * removed or changed entry changes it. Keys and values are separated by bytes that cannot
 * occur in them, so ("a","bc") and ("ab","c") never collide.
 *
 * A step's `file:` entries may come as `files` instead of keys of `entries` (which then holds
 * none): the result is the same as with every file an entry, because all `file:` keys sort
 * together, between the keys below `"file:"` and those above it, in path order.
 */
export function computeInputFingerprint(entries: Readonly<InputEntries>, files?: StepFiles): string {
  // One update per run of parts (the same bytes as one update per part, far fewer calls).
  const keys = Object.keys(entries).sort();
  const hash = nodeCrypto().createHash("sha256");
  let text = "";
  let filesAt = files === undefined || files.size === 0 ? -1 : keys.length;
  for (let i = 0; i < keys.length; i++) {
    if (filesAt === keys.length && keys[i]! > FILE_PREFIX) filesAt = i;
    if (i === filesAt) {
      hash.update(text);
      hash.update(files!.fingerprintText());
      text = "";
    }
    text += `${keys[i]!}\0${entries[keys[i]!]!}\n`;
  }
  hash.update(text);
  if (filesAt === keys.length) hash.update(files!.fingerprintText());
  return hash.digest("hex");
}

const FILE_PREFIX = "file:";

/**
 * The text {@link computeInputFingerprint} hashes for `entries` alone (no files): equal texts,
 * equal entries. A plan compares it with the memo's (see `FingerprintMemo`) without hashing.
 */
export function entriesText(entries: Readonly<InputEntries>): string {
  let text = "";
  for (const key of Object.keys(entries).sort()) text += `${key}\0${entries[key]!}\n`;
  return text;
}

export interface EntryDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export function diffEntries(previous: Readonly<InputEntries>, next: Readonly<InputEntries>): EntryDiff {
  if (sameEntries(previous, next)) return { added: [], removed: [], changed: [] };
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const key of Object.keys(next)) {
    if (!(key in previous)) added.push(key);
    else if (previous[key] !== next[key]) changed.push(key);
  }
  for (const key of Object.keys(previous)) if (!(key in next)) removed.push(key);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

/** Equal maps (the usual no-op plan), checked without building arrays of entries. */
function sameEntries(previous: Readonly<InputEntries>, next: Readonly<InputEntries>): boolean {
  for (const key in next) if (previous[key] !== next[key]) return false;
  for (const key in previous) if (!Object.hasOwn(next, key)) return false;
  return true;
}
