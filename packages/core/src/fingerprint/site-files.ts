import type { FileHashCache } from "./file-hash-cache.js";
import { conversionPaths, readGitListing, type GitListing } from "./git-listing.js";
import { GlobSelector, isDefaultIgnored } from "./glob-selector.js";
import { walkSiteFiles } from "./site-walk.js";
import { StepFiles } from "./step-files.js";
import { trace } from "../log/trace.js";

export { DEFAULT_IGNORES, splitGlobs, type GlobSet } from "./glob-selector.js";

export interface CollectOptions {
  /**
   * Take clean tracked files' content ids from git's index when the site is in a git work
   * tree (default true). Off, every selected file goes through the stat cache.
   */
  useGit?: boolean;
}

/** The files each step selects, with their content ids, by step name. */
export type StepFileIds = Map<string, StepFiles>;

/**
 * The files each step's globs select, with their content ids, for every step at once.
 *
 * In a git work tree, git lists the files: a tracked file git reports unchanged keeps the blob
 * id from the index (no stat, no read here); modified, untracked, converted (attributes) or
 * unusual files, directories git does not track, and anything outside the site go through
 * the stat cache. Elsewhere one walk of the globs' base directories finds the files and the
 * stat cache decides which to read. Either way a file's id is its git blob id, so both paths
 * give the same entry. Only files some glob selects are ever stat'ed or read.
 */
export async function collectSiteFileIds(
  siteDir: string,
  globsByStep: ReadonlyMap<string, readonly string[]>,
  cache: FileHashCache,
  options: CollectOptions = {},
): Promise<StepFileIds> {
  const selector = new GlobSelector(globsByStep);
  if (selector.steps.length === 0) return new Map();
  const insideSite = selector.roots().filter((root) => root !== ".." && !root.startsWith("../"));
  const listingPromise = options.useGit === false ? undefined : readGitListing(siteDir, insideSite);
  cache.loadSync(); // while git runs
  const listing = await listingPromise;
  trace("git listing parsed");
  if (listing && onlyClean(listing, selector)) {
    const direct = selectClean(listing, selector);
    if (direct) {
      cache.saveSync();
      return direct;
    }
  }

  const files: string[] = [];
  const stepsOf: (readonly number[])[] = [];
  const ids: (string | undefined)[] = [];
  const toRead: number[] = [];
  const consider = (file: string, id: string | undefined) => {
    if (isDefaultIgnored(file)) return;
    const steps = selector.select(file);
    if (!steps) return;
    const index = files.push(file) - 1;
    stepsOf.push(steps);
    ids.push(id);
    if (id === undefined) toRead.push(index);
  };
  const walk = (root: string) => walkSiteFiles(siteDir, root, (dir) => selector.reaches(dir), (file) => consider(file, undefined));

  if (listing) {
    const { cleanPaths, cleanIds } = listing;
    for (let i = 0; i < cleanPaths.length; i++) {
      const file = cleanPaths[i]!;
      const steps = selector.select(file);
      if (!steps) continue;
      files.push(file);
      stepsOf.push(steps);
      ids.push(cleanIds[i]!);
    }
    const cleanCount = files.length;
    for (const file of listing.readPaths) consider(file, undefined);
    for (const dir of listing.walkDirs) if (!isDefaultIgnored(`${dir}/`) && selector.reaches(dir)) walk(dir);
    // Globs reaching outside the site: git listed only the site's own tree.
    for (const root of selector.roots()) if (root === ".." || root.startsWith("../")) walk(root);
    if (listing.attributesPresent && cleanCount > 0) {
      const converted = await conversionPaths(siteDir, files.slice(0, cleanCount));
      for (let i = 0; i < cleanCount; i++) {
        if (converted && !converted.has(files[i]!)) continue;
        ids[i] = undefined;
        toRead.push(i);
      }
    }
  } else {
    for (const root of selector.roots()) walk(root);
  }

  if (toRead.length > 0) {
    const read = await cache.readIds(toRead.map((i) => files[i]!));
    for (let k = 0; k < toRead.length; k++) ids[toRead[k]!] = read[k];
  }
  cache.saveSync();

  // Entries in path order, whichever source produced them (git's listing usually is already).
  let sorted = true;
  for (let i = 1; i < files.length && sorted; i++) sorted = files[i - 1]! < files[i]!;
  const order = sorted ? files.keys() : Array.from(files.keys()).sort((a, b) => (files[a]! < files[b]! ? -1 : files[a]! > files[b]! ? 1 : 0));
  const stepPaths = selector.steps.map((): string[] => []);
  const stepIds = selector.steps.map((): string[] => []);
  for (const i of order) {
    const id = ids[i];
    if (id === undefined) continue; // gone since it was listed
    for (const step of stepsOf[i]!) {
      stepPaths[step]!.push(files[i]!);
      stepIds[step]!.push(id);
    }
  }
  return new Map(selector.steps.map((step, i) => [step, new StepFiles(stepPaths[i]!, stepIds[i]!)]));
}

/** A listing with nothing selected to read or walk: every selected file is clean and in git's index. */
function onlyClean(listing: GitListing, selector: GlobSelector): boolean {
  if (listing.attributesPresent) return false;
  if (listing.readPaths.some((file) => !isDefaultIgnored(file) && selector.select(file) !== undefined)) return false;
  if (listing.walkDirs.some((dir) => !isDefaultIgnored(`${dir}/`) && selector.reaches(dir))) return false;
  return !selector.roots().some((root) => root === ".." || root.startsWith("../"));
}

/**
 * The usual no-op case in one pass: clean files, already in path order, straight into each
 * step's arrays. Undefined when the listing is not in code-unit order (non-ASCII paths that
 * git's byte order sorts differently); the general path then sorts.
 */
function selectClean(listing: GitListing, selector: GlobSelector): StepFileIds | undefined {
  const { cleanPaths, cleanIds } = listing;
  const stepPaths = selector.steps.map((): string[] => []);
  const stepIds = selector.steps.map((): string[] => []);
  let previous = "";
  for (let i = 0; i < cleanPaths.length; i++) {
    const file = cleanPaths[i]!;
    if (file <= previous && i > 0) return undefined;
    previous = file;
    const steps = selector.select(file);
    if (!steps) continue;
    const id = cleanIds[i]!;
    for (let k = 0; k < steps.length; k++) {
      stepPaths[steps[k]!]!.push(file);
      stepIds[steps[k]!]!.push(id);
    }
  }
  return new Map(selector.steps.map((step, i) => [step, new StepFiles(stepPaths[i]!, stepIds[i]!)]));
}

/**
 * Lists the site files matched by any step's globs in one walk, then gives each step its
 * own sorted selection. Returns relative POSIX paths.
 */
export async function selectSiteFiles(siteDir: string, globsByStep: ReadonlyMap<string, readonly string[]>): Promise<Map<string, string[]>> {
  const selector = new GlobSelector(globsByStep);
  const selected = new Map<string, string[]>(selector.steps.map((step) => [step, []]));
  for (const root of selector.roots()) {
    walkSiteFiles(
      siteDir,
      root,
      (dir) => selector.reaches(dir),
      (file) => {
        if (isDefaultIgnored(file)) return;
        for (const step of selector.select(file) ?? []) selected.get(selector.steps[step]!)!.push(file);
      },
    );
  }
  for (const files of selected.values()) files.sort();
  return selected;
}
