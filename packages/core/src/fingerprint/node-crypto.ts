// Imports only Node built-ins: hash-worker.ts, which runs as a worker from `src/` too, uses it.
import { createRequire } from "node:module";

let loaded: typeof import("node:crypto") | undefined;

/**
 * `node:crypto`, loaded on first use. Importing it loads ~20 of Node's internal modules
 * (~3 ms); a no-op plan whose keys are compared as text (see {@link compactKey}) never hashes,
 * so it never pays that.
 */
export function nodeCrypto(): typeof import("node:crypto") {
  return (loaded ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto"));
}

/** Longer keys are stored as their sha256. */
const MAX_RAW_KEY = 64 * 1024;

/**
 * A cache key for `text`: the text itself when it is short, else `sha256:` + its hash. Equal
 * texts give equal keys either way (the form depends only on the text), and the usual key, a
 * few hundred bytes to a few kilobytes, is compared without hashing.
 */
export function compactKey(text: string): string {
  return text.length <= MAX_RAW_KEY ? text : `sha256:${nodeCrypto().createHash("sha256").update(text).digest("hex")}`;
}
