import { compactKey } from "../fingerprint/node-crypto.js";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonObject } from "../contracts.js";
import { checksum } from "../files/checksum.js";
import { replaceCacheFileSync } from "../files/write-file-atomically.js";
import { CORE_VERSION } from "../version.js";
import { SITE_SCHEMA_PATH } from "./site-schema.js";

/**
 * The last good parse of stepwise.yaml, in `.stepwise/cache/site.json`: `{ key, site }`, where
 * `site` is the YAML as JSON after it passed the schema and the version rule.
 *
 * Loading the yaml package and validating take ~20 ms of a ~100 ms no-op plan; an unchanged
 * file costs one small JSON read instead. The key covers the file's exact bytes and this
 * build of core (its version, and the modification times of the schema and of this module,
 * which change on every rebuild), so an edit or an upgrade always parses afresh. `sum` is a
 * checksum of `site`'s JSON text: a cache is a hint, never authority, so a `site` damaged
 * under an intact key is not trusted. The cache is best effort: unreadable, unwritable,
 * malformed or damaged, it is ignored and the file is parsed again.
 */
const CACHE_FILE = path.join(".stepwise", "cache", "site.json");

let buildId: string | undefined;

function cacheKey(text: string): string {
  buildId ??= [CORE_VERSION, ...[SITE_SCHEMA_PATH, new URL(import.meta.url)].map((url) => {
    try {
      return String(statSync(fileURLToPath(url)).mtimeMs);
    } catch {
      return "-";
    }
  })].join(" ");
  return compactKey(`${buildId}\0${text}`);
}

/** The cached parse of `text`, or undefined. */
export function readSiteCache(siteDir: string, text: string): JsonObject | undefined {
  try {
    const cached = JSON.parse(readFileSync(path.join(siteDir, CACHE_FILE), "utf8")) as { key?: unknown; sum?: unknown; site?: unknown };
    if (cached.key !== cacheKey(text) || !cached.site || typeof cached.site !== "object" || Array.isArray(cached.site)) return undefined;
    if (cached.sum !== checksum(JSON.stringify(cached.site))) return undefined;
    return cached.site as JsonObject;
  } catch {
    return undefined;
  }
}

/** Records a good parse of `text` (temp file + rename: a reader sees the old file or the new one). */
export function writeSiteCache(siteDir: string, text: string, site: JsonObject): void {
  try {
    const siteText = JSON.stringify(site);
    // A read-only site still works; it parses every time.
    replaceCacheFileSync(path.join(siteDir, CACHE_FILE), `{"key":${JSON.stringify(cacheKey(text))},"sum":${checksum(siteText)},"site":${siteText}}`, 0o600);
  } catch {
    // `site` that JSON cannot hold: not cached.
  }
}

