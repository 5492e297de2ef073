import { existsSync, lstatSync } from "node:fs";
import path from "node:path";
import { git, settleListing, startGitListing, statKey, takePrefetched, type StartedListing } from "./git-start.js";
import { readGitIndex, type GitIndex } from "./git-index.js";
import { RACY_WINDOW_MS } from "./file-hash-cache.js";
import { trackedDirectories, untrackedCache, untrackedDirLine } from "../cache/untracked-cache.js";
import { isDefaultIgnored } from "./glob-selector.js";
import { trace } from "../log/trace.js";

export { findGitEntry, prefetchGitListing } from "./git-start.js";

/**
 * What git knows about the files under a site directory, read without writing anything
 * (`GIT_OPTIONAL_LOCKS=0`, no index refresh). Paths are site-relative with POSIX separators.
 */
export interface GitListing {
  /**
   * Tracked files git vouches are unchanged on disk, with their blob ids (= content ids). None
   * is under a default-ignored directory (node_modules, .stepwise).
   */
  cleanPaths: string[];
  cleanIds: string[];
  /** Files to read from disk: modified, untracked, conflicted, symlinks, assume-unchanged. */
  readPaths: string[];
  /** Directories git lists as wholly untracked (`""`: the site itself), and submodules: walk them if a glob reaches in. */
  walkDirs: string[];
  /**
   * Whether attributes may rewrite content between the work tree and git (filters, eol,
   * text): then a blob id can differ from the file's bytes, so the caller must ask
   * {@link conversionPaths} which clean files to read instead.
   */
  attributesPresent: boolean;
}

const [C, R, H, S, ZERO, QUESTION] = ["C", "R", "H", "S", "0", "?"].map((c) => c.charCodeAt(0)) as [number, number, number, number, number, number];

/**
 * Git's view of a site, opened: {@link identity} says whether anything git reports changed
 * since a listing seen before, without reading the index; {@link listing} reads it.
 */
export interface GitListingHandle {
  /**
   * Equal identities are equal listings: the same index (its checksum), the same files git
   * reports modified, deleted or untracked, the same settings and attribute files, for the same
   * site and scope. Undefined when that cannot be vouched for: an index without a checksum
   * (`index.skipHash`), or one that changed while git listed the site.
   */
  readonly identity: string | undefined;
  /** The listing itself (reads the index); undefined when git cannot list the site after all. */
  listing(): Promise<GitListing | undefined>;
}

/**
 * Reads git's view of `siteDir`: the index file itself (read here, see git-index.ts) for the
 * tracked files and their blob ids, `git diff-files` for the tracked files that differ from it
 * (one stat pass; racy entries compared by content as `git status` does; see git-start.ts on
 * git's preload threads), and `git ls-files -o --directory` for untracked files, wholly untracked directories
 * collapsed (no ignore rules: a glob may select an ignored file). The untracked listing is
 * kept in `.stepwise/cache/untracked.json` with the mtime of every directory git walked for
 * it, as git's untracked cache does: while no such directory changed (a file added, removed
 * or renamed in it changes its mtime) and the index is the same, it is not run again. A third
 * git process reads the settings that make blob ids differ from file bytes. An index this
 * reader does not follow (split, sparse) is listed by `git ls-files -c -s` instead.
 *
 * Returns undefined when `siteDir` is not in a git work tree, git is missing or fails, the
 * repository is not SHA-1, or `core.autocrlf` converts line endings.
 *
 * `scope` (site-relative directories, e.g. the globs' bases) limits both the stat pass and the
 * untracked walk to those directories: git stats only what the globs can select. A listing
 * prefetched for the whole site serves any scope.
 */
export async function openGitListing(siteDir: string, scope?: readonly string[]): Promise<GitListingHandle | undefined> {
  const key = path.resolve(siteDir);
  const started = takePrefetched(key) ?? startGitListing(key, scope);
  return started ? finishGitListing(started) : undefined;
}

/** {@link openGitListing}, then its listing. */
export async function readGitListing(siteDir: string, scope?: readonly string[]): Promise<GitListing | undefined> {
  return (await openGitListing(siteDir, scope))?.listing();
}

const EMPTY_LISTING = (): GitListing => ({ cleanPaths: [], cleanIds: [], readPaths: [], walkDirs: [], attributesPresent: false });

/**
 * Keeps the untracked listing git just produced, with the stat of every directory git walked
 * for it: the site and each directory holding tracked files (git does not descend into the
 * others, and lists each as one entry). Not kept when a directory changed too recently to tell
 * whether git saw the change (see {@link RACY_WINDOW_MS}), or when it could not be written.
 */
function keepUntracked(started: StartedListing, index: GitIndex, untracked: string): void {
  const { siteDir, prefix, indexChecksum, untrackedStartedAt } = started;
  if (indexChecksum === undefined || untrackedStartedAt === undefined) return;
  const dirs = trackedDirectories(index.paths, prefix);
  const base = siteDir.endsWith(path.sep) ? siteDir : siteDir + path.sep;
  const racyAfter = untrackedStartedAt - RACY_WINDOW_MS;
  const lines: string[] = [];
  for (const dir of dirs) {
    const stat = lstatSync(base + dir, { throwIfNoEntry: false });
    // An entry added, removed or renamed later sets the mtime to then: only a recent mtime could
    // come back unchanged from such a change (a recent ctime alone, e.g. after utimes, cannot).
    if (stat && stat.mtimeMs >= racyAfter) return;
    lines.push(untrackedDirLine(stat, dir));
  }
  untrackedCache.write(siteDir, { prefix, index: indexChecksum, dirs: lines.join(""), untracked });
}

async function finishGitListing(started: StartedListing): Promise<GitListingHandle | undefined> {
  const { scope } = started;
  const settled = await settleListing(started);
  if (!settled) return undefined;
  const { modifiedText, untrackedText, attributesOutside } = settled;
  let identity = settled.identity;
  // The index as the identity names it, read once: for the untracked cache now (when git just
  // listed the untracked files) and for the listing when it is asked for.
  let index: GitIndex | undefined | null = null;
  const unchangedIndex = () => statKey(started.indexFile) === started.indexStat;
  let indexChanged = false;
  const sameIndex = (): GitIndex | undefined => {
    if (index === null) {
      const read = readGitIndex(started.indexFile);
      trace("git index read");
      indexChanged = !unchangedIndex() || (read !== undefined && read.checksum !== (started.indexChecksum ?? "0".repeat(40)));
      index = indexChanged ? undefined : read; // undefined too for an index the reader declines (split, sparse)
    }
    return index;
  };
  if (started.untrackedStartedAt !== undefined && started.scope === undefined && started.indexChecksum !== undefined) {
    const fresh = sameIndex();
    if (fresh) keepUntracked(started, fresh, untrackedText);
  }
  let listed: Promise<GitListing | undefined> | undefined;
  const list = async (): Promise<GitListing | undefined> => {
    if (scope?.length === 0) return EMPTY_LISTING();
    const current = sameIndex();
    const listing = current ? listFromIndex(started, current, modifiedText, untrackedText) : await listWithLsFiles(started);
    // Listed from another index than the one the identity names: the identity cannot stand for it.
    if (indexChanged || !unchangedIndex()) identity = undefined;
    if (!listing) return undefined;
    trace("git output parsed");
    listing.attributesPresent ||= attributesOutside;
    return listing;
  };
  return {
    get identity() {
      return identity;
    },
    listing: () => (listed ??= list()),
  };
}

/**
 * The listing from the index file, `git diff-files -z --name-only` output (modified and
 * deleted files) and `git ls-files -z -o --directory` output (untracked files and directories).
 */
function listFromIndex(started: StartedListing, index: GitIndex, modifiedText: string, untrackedText: string): GitListing {
  const { siteDir, scope, prefix } = started;
  const listing = EMPTY_LISTING();
  const modified = new Set<string>();
  for (let at = 0; at < modifiedText.length; ) {
    let end = modifiedText.indexOf("\0", at);
    if (end < 0) end = modifiedText.length;
    modified.add(modifiedText.slice(at, end));
    at = end + 1;
  }
  for (let at = 0; at < untrackedText.length; ) {
    let end = untrackedText.indexOf("\0", at);
    if (end < 0) end = untrackedText.length;
    if (end > at) addUntracked(listing, untrackedText.slice(at, end));
    at = end + 1;
  }
  // A scope directory's own path is in scope too, as git's pathspec has it: a submodule there is
  // one index entry (`src`, not `src/...`), and a glob's base can also be a file.
  const inScope = scope === undefined ? undefined : scope.map((dir) => `${dir}/`);
  const scopeItself = new Set(scope);
  let previous = "";
  for (let i = 0; i < index.paths.length; i++) {
    let file = index.paths[i]!;
    if (prefix !== "") {
      if (!file.startsWith(prefix)) continue;
      file = file.slice(prefix.length);
    }
    if (file === previous) continue; // conflicted: stages 1-3 of one path
    previous = file;
    if (inScope !== undefined && !scopeItself.has(file) && !inScope.some((dir) => file.startsWith(dir))) continue;
    if (isDefaultIgnored(file)) continue;
    const unusual = index.unusual.has(i);
    addTracked(listing, siteDir, file, index.modes[i]!, unusual || modified.has(file) ? undefined : index.ids[i]!, unusual);
  }
  return listing;
}

/** The listing from `git ls-files -c -s` output, for an index {@link readGitIndex} does not read. */
async function listWithLsFiles(started: StartedListing): Promise<GitListing | undefined> {
  const { siteDir, scope } = started;
  const pathspecs = scope ? ["--", ...scope.map((dir) => `:(literal)${dir}`)] : [];
  const listed = await git(siteDir, ["ls-files", "-z", "-c", "-m", "-d", "-o", "--directory", "-s", "-t", "-v", ...pathspecs]);
  if (listed.code !== 0) return undefined;
  const listing = EMPTY_LISTING();
  const text = listed.stdout.toString("utf8");
  // Checked once on the whole listing, so the usual repository costs no test per file.
  const mayHoldIgnored = text.includes("node_modules/") || text.includes(".stepwise/");
  // Records are "<tag> <mode> <object> <stage>\t<path>\0" for the index and "? <path>\0" for
  // untracked files and wholly untracked directories (git prints those first), read in place.
  // Modified and deleted files repeat their cached record with tag C or R: collect them first.
  const changed = new Set<string>();
  for (let at = 0; at < text.length; ) {
    const end = text.indexOf("\0", at);
    if (end < 0) break;
    const tag = text.charCodeAt(at);
    if (tag === C || tag === R) changed.add(text.slice(text.indexOf("\t", at) + 1, end));
    at = end + 1;
  }
  let previous = "";
  for (let at = 0; at < text.length; ) {
    const record = at;
    const tag = text.charCodeAt(record);
    if (tag === QUESTION) {
      const end = text.indexOf("\0", record);
      if (end < 0) break;
      at = end + 1;
      addUntracked(listing, text.slice(record + 2, end));
      continue;
    }
    const tab = text.indexOf("\t", record);
    const end = tab < 0 ? -1 : text.indexOf("\0", tab);
    if (end < 0) break; // output always ends with a NUL; anything else is not a record
    at = end + 1;
    if (tag === C || tag === R) continue;
    const file = text.slice(tab + 1, end);
    if (file === previous) continue; // conflicted: stages 1-3 of one path
    previous = file;
    if (mayHoldIgnored && isDefaultIgnored(file)) continue;
    // Only an H (cached) record at stage 0 that git did not report changed is clean; lower-case
    // tags (assume-unchanged), conflicts and S (skip-worktree) are not.
    const clean = tag === H && text.charCodeAt(tab - 1) === ZERO && !changed.has(file);
    addTracked(listing, siteDir, file, parseInt(text.slice(record + 2, record + 8), 8), clean ? text.slice(record + 9, tab - 2) : undefined, tag === S);
  }
  return listing;
}

const [REGULAR, EXECUTABLE, GITLINK] = [0o100644, 0o100755, 0o160000];

const isAttributesFile = (file: string) => file === ".gitattributes" || file.endsWith("/.gitattributes");

/**
 * An untracked file, or a wholly untracked directory (a trailing `/`) to walk. `./` is the site
 * itself: git collapses it to one entry when nothing under it is tracked (a site never added
 * to an enclosing repository, or ignored by it, or under such a directory), and it is walked
 * as `""`, the site, like any other such directory.
 */
function addUntracked(listing: GitListing, entry: string): void {
  if (entry === "./") listing.walkDirs.push("");
  else if (entry.endsWith("/")) listing.walkDirs.push(entry.slice(0, -1));
  else {
    listing.readPaths.push(entry);
    if (isAttributesFile(entry)) listing.attributesPresent = true;
  }
}

/**
 * A tracked file: a submodule (walked), a regular file git vouches is unchanged (`cleanId`,
 * its blob id, given), or a file to read: changed, a symlink, an unusual entry. An entry
 * that may be absent on purpose (skip-worktree) is read only if it is there.
 */
function addTracked(listing: GitListing, siteDir: string, file: string, mode: number, cleanId: string | undefined, mayBeAbsent: boolean): void {
  if (mode === GITLINK) listing.walkDirs.push(file);
  else if (cleanId !== undefined && (mode === REGULAR || mode === EXECUTABLE)) {
    listing.cleanPaths.push(file);
    listing.cleanIds.push(cleanId);
  } else if (!mayBeAbsent || existsSync(path.join(siteDir, file))) listing.readPaths.push(file);
  if (isAttributesFile(file)) listing.attributesPresent = true;
}

/** Attributes that make git store something other than the file's bytes. */
const CONVERSION_ATTRIBUTES = ["filter", "text", "eol", "crlf", "ident", "working-tree-encoding"];

/**
 * Of `files` (site-relative), those an attribute may convert (any of {@link CONVERSION_ATTRIBUTES}
 * set or given a value): their blob ids cannot stand for their bytes. Undefined if git fails.
 */
export async function conversionPaths(siteDir: string, files: readonly string[]): Promise<Set<string> | undefined> {
  const result = await git(siteDir, ["check-attr", "-z", "--stdin", ...CONVERSION_ATTRIBUTES], files.join("\0") + "\0");
  if (result.code !== 0) return undefined;
  const converted = new Set<string>();
  const fields = result.stdout.toString("utf8").split("\0");
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const value = fields[i + 2];
    if (value !== "unspecified" && value !== "unset") converted.add(fields[i]!);
  }
  return converted;
}
