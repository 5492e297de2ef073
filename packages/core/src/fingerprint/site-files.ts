import type { FileHashCache } from "./file-hash-cache.js";
import { compactKey } from "./node-crypto.js";
import { conversionPaths, openGitListing, type GitListing, type GitListingHandle } from "./git-listing.js";
import { GlobSelector, isDefaultIgnored } from "./glob-selector.js";
import { walkSiteFiles } from "./site-walk.js";
import { StepFiles } from "./step-files.js";
import { trace } from "../log/trace.js";
import { fileInputsCache } from "../cache/file-inputs-cache.js";

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
  return (await openSiteFileInputs(siteDir, globsByStep, cache, options)).collect();
}

/** The file inputs of a site, before and after {@link SiteFileInputs.collect} lists them. */
export interface SiteFileInputs {
  /**
   * Equal identities: every step selects the same files with the same content ids. Known
   * before {@link collect} when git's listing is the one a collection saw before (the same
   * index, the same modified and untracked files: see {@link openGitListing}), the globs are
   * the same, and every file that collection read from disk has the same stat now; after
   * {@link collect}, it names what was collected. Undefined when that cannot be vouched for:
   * outside git, globs reaching into untracked directories or outside the site, attributes
   * that convert content, or a file changed too recently to tell (racy).
   */
  readonly identity: string | undefined;
  /**
   * What {@link identity} is made of, when it is defined: the git listing's identity and the
   * files read from disk with their stats (the plan memo's witnesses); null for a site without
   * file inputs.
   */
  readonly basis: { listing: string; read: readonly (readonly [string, string])[] } | null | undefined;
  /** The files each step selects, with their content ids (see {@link collectSiteFileIds}); once. */
  collect(): Promise<StepFileIds>;
}

/**
 * Opens the file inputs of a site: starts (or takes the prefetched) git listing and works out
 * its {@link SiteFileInputs.identity}, which a plan compares with the one its fingerprints were
 * computed for, and collects the files only when they differ.
 */
export async function openSiteFileInputs(
  siteDir: string,
  globsByStep: ReadonlyMap<string, readonly string[]>,
  cache: FileHashCache,
  options: CollectOptions = {},
): Promise<SiteFileInputs> {
  const selector = new GlobSelector(globsByStep);
  if (selector.steps.length === 0) return { identity: undefined, basis: null, collect: async () => new Map() };
  const insideSite = selector.roots().filter((root) => root !== ".." && !root.startsWith("../"));
  const handle = options.useGit === false ? undefined : await openGitListing(siteDir, insideSite);
  trace("git listing opened");
  const globs = JSON.stringify([...globsByStep].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const identityOf = (listing: string, read: readonly [string, string][]) => compactKey(JSON.stringify(["file-inputs 3", listing, globs, read]));

  let identity: string | undefined;
  let basis: { listing: string; read: readonly (readonly [string, string])[] } | undefined;
  const listingIdentity = handle?.identity;
  // `.stepwise/cache/file-inputs.json`: the listing, globs and read files' stats of the last collection.
  const known = listingIdentity === undefined ? undefined : fileInputsCache.read(siteDir);
  if (known && known.listing === listingIdentity && known.globs === globs && known.read.every(([file, stat]) => cache.currentStat(file) === stat)) {
    identity = identityOf(listingIdentity!, known.read);
    basis = { listing: listingIdentity!, read: known.read };
  }

  let collected: Promise<StepFileIds> | undefined;
  const collect = async (): Promise<StepFileIds> => {
    identity = undefined;
    basis = undefined;
    const { files, read } = await collectFrom(siteDir, selector, cache, handle);
    const listing = handle?.identity; // undefined if the index changed while it was listed
    if (listing === undefined || read === undefined) return files;
    const stats: [string, string][] = [];
    for (const file of read) {
      const stat = cache.statOf(file);
      if (stat === undefined) return files; // racy or gone: cannot be vouched for next time
      stats.push([file, stat]);
    }
    identity = identityOf(listing, stats);
    basis = { listing, read: stats };
    if (!known || known.listing !== listing || known.globs !== globs || JSON.stringify(known.read) !== JSON.stringify(stats)) {
      fileInputsCache.write(siteDir, { listing, globs, read: stats });
    }
    return files;
  };
  return {
    get identity() {
      return identity;
    },
    get basis() {
      return basis;
    },
    collect: () => (collected ??= collect()),
  };
}

/**
 * The collection itself, and the files it read from disk (not from git's index) when those
 * and git's listing are all it depends on; undefined when it also walked directories.
 */
async function collectFrom(
  siteDir: string,
  selector: GlobSelector,
  cache: FileHashCache,
  handle: GitListingHandle | undefined,
): Promise<{ files: StepFileIds; read: string[] | undefined }> {
  const listingPromise = handle?.listing();
  cache.loadSync(); // while the index is read
  const listing = await listingPromise;
  trace("git listing parsed");
  if (listing && onlyClean(listing, selector)) {
    const direct = selectClean(listing, selector);
    if (direct) {
      cache.saveSync();
      return { files: direct, read: [] };
    }
  }

  const files: string[] = [];
  const stepsOf: (readonly number[])[] = [];
  const ids: (string | undefined)[] = [];
  const toRead: number[] = [];
  let walked = false;
  const consider = (file: string, id: string | undefined) => {
    if (isDefaultIgnored(file)) return;
    const steps = selector.select(file);
    if (!steps) return;
    const index = files.push(file) - 1;
    stepsOf.push(steps);
    ids.push(id);
    if (id === undefined) toRead.push(index);
  };
  const walk = (root: string) => {
    walked = true;
    walkSiteFiles(siteDir, root, (dir) => selector.reaches(dir), (file) => consider(file, undefined));
  };

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
      walked = true; // what attributes convert is not part of the listing's identity
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
  return {
    files: new Map(selector.steps.map((step, i) => [step, new StepFiles(stepPaths[i]!, stepIds[i]!)])),
    read: listing && !walked ? toRead.map((i) => files[i]!) : undefined,
  };
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
