import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { JsonObject } from "../contracts.js";
import { compactKey } from "../fingerprint/node-crypto.js";
import { SITE_SCHEMA_PATH } from "../site/site-schema.js";
import { CORE_VERSION } from "../version.js";
import { defineJsonCache, isRecord } from "./cache-file.js";
import { witnessFile } from "./plan-memo.js";

interface SiteParse {
  /** {@link parseKey} of the stepwise.yaml text this is the parse of. */
  key: string;
  /** The YAML as JSON, after it passed the schema and the version rule. */
  site: JsonObject;
}

/**
 * `site.json`: the last good parse of stepwise.yaml. Loading the yaml package and validating
 * take ~20 ms of a ~100 ms no-op plan; an unchanged file costs one small JSON read instead. The
 * key covers the file's exact bytes and this build of core (its version, and the modification
 * times of the schema and of this module, which change on every rebuild), so an edit or an
 * upgrade always parses afresh. 0600: it holds the site's config values.
 */
export const siteParseCache = defineJsonCache<SiteParse>({
  name: "site.json",
  version: 1,
  mode: 0o600,
  isValid: (value): value is SiteParse => isRecord(value) && typeof value.key === "string" && isRecord(value.site),
});

let buildId: string | undefined;

function parseKey(text: string): string {
  buildId ??= [CORE_VERSION, ...[SITE_SCHEMA_PATH, new URL(import.meta.url)].map((url) => {
    witnessFile(fileURLToPath(url));
    try {
      return String(statSync(fileURLToPath(url)).mtimeMs);
    } catch {
      return "-";
    }
  })].join(" ");
  return compactKey(`${buildId}\0${text}`);
}

/** The cached parse of the stepwise.yaml `text`, or undefined. */
export function readSiteCache(siteDir: string, text: string): JsonObject | undefined {
  const cached = siteParseCache.read(siteDir);
  return cached?.key === parseKey(text) ? cached.site : undefined;
}

/** Records a good parse of `text`; a read-only site still works, it parses every time. */
export function writeSiteCache(siteDir: string, text: string, site: JsonObject): void {
  siteParseCache.write(siteDir, { key: parseKey(text), site });
}
