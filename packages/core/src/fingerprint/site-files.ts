import picomatch from "picomatch";
import { glob } from "tinyglobby";

/** Never inputs: stepwise's own state, VCS metadata and installed packages. */
export const DEFAULT_IGNORES = [".stepwise/**", "**/.git/**", "**/node_modules/**"];

export interface GlobSet {
  include: string[];
  exclude: string[];
}

/** Splits `["app/**", "!app/tmp/**"]` into include and exclude globs. */
export function splitGlobs(patterns: readonly string[]): GlobSet {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith("!")) exclude.push(pattern.slice(1));
    else include.push(pattern);
  }
  return { include, exclude };
}

/**
 * Lists the site files matched by any step's globs in one walk, then gives each step its
 * own sorted selection. Returns relative POSIX paths.
 */
export async function selectSiteFiles(siteDir: string, globsByStep: ReadonlyMap<string, readonly string[]>): Promise<Map<string, string[]>> {
  const sets = new Map<string, GlobSet>();
  const allIncludes = new Set<string>();
  for (const [step, patterns] of globsByStep) {
    const set = splitGlobs(patterns);
    if (set.include.length === 0) continue;
    sets.set(step, set);
    for (const pattern of set.include) allIncludes.add(pattern);
  }
  const selected = new Map<string, string[]>();
  if (allIncludes.size === 0) return selected;
  const files = (
    await glob([...allIncludes], { cwd: siteDir, dot: true, onlyFiles: true, followSymbolicLinks: false, ignore: DEFAULT_IGNORES, expandDirectories: false })
  ).sort();
  for (const [step, set] of sets) {
    const isIncluded = picomatch(set.include, { dot: true });
    const isExcluded = set.exclude.length ? picomatch(set.exclude, { dot: true }) : () => false;
    selected.set(step, files.filter((file) => isIncluded(file) && !isExcluded(file)));
  }
  return selected;
}
