import { CORE_VERSION } from "../version.js";
import { defineJsonCache, isRecord, isStringArray } from "./cache-file.js";

interface CoreRanges {
  /** The core version the ranges were checked against. */
  core: string;
  /** `@stepwise/core` ranges semver found that version to satisfy. */
  ranges: string[];
}

/**
 * `core-ranges.json`: the `@stepwise/core` ranges of plugins that this version of core
 * satisfies. A pure function's answers, so they never go stale; another core version starts
 * over. Every command loads plugins, and semver's first use costs ~3 ms of it. A damaged list
 * could admit an incompatible plugin: the checksum keeps it out.
 */
export const coreRangesCache = defineJsonCache<CoreRanges>({
  name: "core-ranges.json",
  version: 1,
  isValid: (value): value is CoreRanges => isRecord(value) && typeof value.core === "string" && isStringArray(value.ranges),
});

/** The ranges known to be satisfied by the running core (empty when none are). */
export function readCoreRanges(siteDir: string): string[] {
  const cached = coreRangesCache.read(siteDir);
  return cached?.core === CORE_VERSION ? cached.ranges : [];
}

export function writeCoreRanges(siteDir: string, ranges: readonly string[]): void {
  coreRangesCache.write(siteDir, { core: CORE_VERSION, ranges: [...ranges].sort() });
}
