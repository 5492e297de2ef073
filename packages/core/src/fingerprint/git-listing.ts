import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readGitIndex, type GitIndex } from "./git-index.js";
import { isDefaultIgnored } from "./glob-selector.js";
import { trace } from "../log/trace.js";

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
  /** Directories git lists as wholly untracked, and submodules: walk them if a glob reaches in. */
  walkDirs: string[];
  /**
   * Whether attributes may rewrite content between the work tree and git (filters, eol,
   * text): then a blob id can differ from the file's bytes, so the caller must ask
   * {@link conversionPaths} which clean files to read instead.
   */
  attributesPresent: boolean;
}

const [C, R, H, S, ZERO, QUESTION] = ["C", "R", "H", "S", "0", "?"].map((c) => c.charCodeAt(0)) as [number, number, number, number, number, number];

/** Environment variables that would point git at another repository than the site's. */
const REPOSITORY_VARIABLES = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"];

function gitEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: "0", GIT_TERMINAL_PROMPT: "0" };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}

interface GitRun {
  code: number | null;
  stdout: Buffer;
}

let outputCounter = 0;

/**
 * Runs git with its output going to an unlinked temporary file rather than a pipe: git never
 * waits for this process to drain a pipe (it may be busy loading modules), and the output,
 * megabytes for a large index, is read back with one call instead of dozens of stream chunks.
 */
function git(cwd: string, args: readonly string[], input?: string): Promise<GitRun> {
  const failed: GitRun = { code: null, stdout: Buffer.alloc(0) };
  let fd: number;
  const file = path.join(os.tmpdir(), `stepwise-git-${process.pid}-${outputCounter++}`);
  try {
    fd = openSync(file, "w+", 0o600);
  } catch {
    return Promise.resolve(failed);
  }
  let unlinked = false;
  try {
    unlinkSync(file); // POSIX keeps the open file; Windows refuses, and it is removed after reading
    unlinked = true;
  } catch {
    // removed below
  }
  let finished: GitRun | undefined;
  const finish = (code: number | null): GitRun => {
    if (finished) return finished; // "error" and "exit" can both arrive
    finished = failed;
    try {
      if (code !== 0) return (finished = { code, stdout: Buffer.alloc(0) });
      const size = fstatSync(fd).size;
      const stdout = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const n = readSync(fd, stdout, read, size - read, read);
        if (n === 0) break;
        read += n;
      }
      finished = { code, stdout: stdout.subarray(0, read) };
      return finished;
    } catch {
      return failed;
    } finally {
      closeSync(fd);
      if (!unlinked) rmSync(file, { force: true });
    }
  };
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn("git", args, { cwd, env: gitEnvironment(), stdio: [input === undefined ? "ignore" : "pipe", fd, "ignore"], windowsHide: true });
    } catch {
      resolve(finish(null));
      return;
    }
    child.once("error", () => resolve(finish(null)));
    child.once("exit", (code) => resolve(finish(code)));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/**
 * The `.git` entry (directory or gitfile) governing `dir`, found without running git. Like git,
 * it does not go up into a directory listed in `GIT_CEILING_DIRECTORIES`.
 */
export function findGitEntry(dir: string): string | undefined {
  const ceilings = new Set((process.env.GIT_CEILING_DIRECTORIES ?? "").split(path.delimiter).filter((d) => path.isAbsolute(d)).map((d) => path.resolve(d)));
  let current = path.resolve(dir);
  for (;;) {
    const candidate = path.join(current, ".git");
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(current);
    if (parent === current || ceilings.has(parent)) return undefined;
    current = parent;
  }
}

/**
 * Reads git's view of `siteDir`: the index file itself (read here, see git-index.ts) for the
 * tracked files and their blob ids, and one `git ls-files -m -d -o --directory -t` for what
 * differs from it: modified and deleted files (one stat pass over tracked files, racy entries
 * compared by content as `git status` does) and untracked files, wholly untracked directories
 * collapsed (no ignore rules: a glob may select an ignored file). A second git process reads
 * the settings that make blob ids differ from file bytes. An index this reader does not
 * follow (split, sparse) is listed by `git ls-files -c -s` instead.
 *
 * Returns undefined when `siteDir` is not in a git work tree, git is missing or fails, the
 * repository is not SHA-1, or `core.autocrlf` converts line endings.
 *
 * `scope` (site-relative directories, e.g. the globs' bases) limits both the stat pass and the
 * untracked walk to those directories: git stats only what the globs can select. A listing
 * prefetched for the whole site serves any scope.
 */
export function readGitListing(siteDir: string, scope?: readonly string[]): Promise<GitListing | undefined> {
  const key = path.resolve(siteDir);
  const prefetched = prefetches.get(key);
  if (prefetched) {
    prefetches.delete(key); // once: a later collection (deploy's second) must see the tree as it is then
    return finishGitListing(prefetched);
  }
  const started = startGitListing(key, scope);
  return started ? finishGitListing(started) : Promise.resolve(undefined);
}

const prefetches = new Map<string, StartedListing | undefined>();

/**
 * Starts git's part of {@link readGitListing} for `siteDir` now, for the next read of that
 * directory to take: a command that will plan calls this first thing, so git's stat pass
 * runs on another core while the command loads its modules, site and plugins.
 */
export function prefetchGitListing(siteDir: string): void {
  const key = path.resolve(siteDir);
  if (prefetches.has(key) || existsSync(path.join(key, NO_FILE_INPUTS_MARKER))) return;
  prefetches.set(key, startGitListing(key));
}

/**
 * Present while the site's last plan found no step with file inputs: the listing would be
 * work for nothing (a site of services from registry images), so the CLI does not start it.
 * {@link markFileInputs} keeps it in step; a stale marker costs only the prefetch.
 */
export const NO_FILE_INPUTS_MARKER = path.join(".stepwise", "cache", "no-file-inputs");

/** Records whether any step of the site declares file inputs (see {@link NO_FILE_INPUTS_MARKER}). */
export function markFileInputs(siteDir: string, present: boolean): void {
  const marker = path.join(siteDir, NO_FILE_INPUTS_MARKER);
  try {
    if (present) rmSync(marker, { force: true });
    else if (!existsSync(marker)) {
      mkdirSync(path.dirname(marker), { recursive: true, mode: 0o700 });
      writeFileSync(marker, "");
    }
  } catch {
    // Only a hint: a read-only site prefetches every time.
  }
}

/**
 * Beyond this many directories, the whole site is listed: git matches every index entry
 * against every pathspec, which costs more than it saves when the globs cover most of the
 * tree (measured: 50 pathspecs over 20,000 files add ~15%).
 */
const MAX_SCOPE = 16;

/** Git's processes under way for one listing, and where the index they compare with is. */
interface StartedListing {
  siteDir: string;
  gitEntry: string;
  /** The site's path inside the work tree, with a trailing `/` ("" at the top). */
  prefix: string;
  indexFile: string;
  indexStat: string;
  scope: readonly string[] | undefined;
  changes: Promise<GitRun>;
  config: Promise<GitRun>;
}

const EMPTY_LISTING = (): GitListing => ({ cleanPaths: [], cleanIds: [], readPaths: [], walkDirs: [], attributesPresent: false });

function startGitListing(siteDir: string, scope?: readonly string[]): StartedListing | undefined {
  let physical: string;
  try {
    physical = realpathSync(siteDir); // git works from the physical directory, so the prefix must too
  } catch {
    return undefined;
  }
  const gitEntry = findGitEntry(physical);
  if (!gitEntry) return undefined;
  const scoped = scope !== undefined && scope.length <= MAX_SCOPE && !scope.includes("") ? scope : undefined;
  const pathspecs = scoped ? ["--", ...scoped.map((dir) => `:(literal)${dir}`)] : [];
  const prefix = path.relative(path.dirname(gitEntry), physical).split(path.sep).join("/");
  const indexFile = path.join(gitDirOf(gitEntry), "index");
  return {
    siteDir,
    gitEntry,
    prefix: prefix === "" ? "" : `${prefix}/`,
    indexFile,
    indexStat: statKey(indexFile),
    scope: scoped,
    // One process for both: git then runs on one core and leaves the other to this process.
    changes: scoped?.length === 0 ? Promise.resolve({ code: 0, stdout: Buffer.alloc(0) }) : git(siteDir, ["ls-files", "-z", "-m", "-d", "-o", "--directory", "-t", ...pathspecs]),
    config: git(siteDir, ["config", "-z", "--get-regexp", "^(core\\.autocrlf|core\\.attributesfile|extensions\\.objectformat)$"]),
  };
}

/** Size, mtime and inode of a file: the index changed under the listing if this did. */
function statKey(file: string): string {
  try {
    const stat = statSync(file, { bigint: true });
    return `${stat.size} ${stat.mtimeNs} ${stat.ctimeNs} ${stat.ino}`;
  } catch {
    return "";
  }
}

async function finishGitListing(started: StartedListing): Promise<GitListing | undefined> {
  const { siteDir, scope } = started;
  const config = await started.config;
  if (config.code !== 0 && config.code !== 1) return undefined;
  const settings = parseConfig(config.stdout.toString("utf8"));
  const objectFormat = settings.get("extensions.objectformat");
  if (objectFormat !== undefined && objectFormat.toLowerCase() !== "sha1") return undefined;
  const autocrlf = settings.get("core.autocrlf")?.toLowerCase();
  if (autocrlf !== undefined && autocrlf !== "false") return undefined;
  if (scope?.length === 0) return EMPTY_LISTING();

  // Read the index while git still runs its stat pass over the same entries.
  const index = readGitIndex(started.indexFile);
  trace("git index read");
  const changes = await started.changes;
  trace("git done");
  if (changes.code !== 0) return undefined;
  const listing = index && statKey(started.indexFile) === started.indexStat ? listFromIndex(started, index, changes.stdout.toString("utf8")) : await listWithLsFiles(started);
  if (!listing) return undefined;
  trace("git output parsed");
  listing.attributesPresent ||= attributeFilesOutsideListing(siteDir, started.gitEntry, settings.get("core.attributesfile"), scope ?? []);
  return listing;
}

/** The listing from the index file and `ls-files -m -d -o --directory -t` output ("<tag> <path>\0"). */
function listFromIndex(started: StartedListing, index: GitIndex, changes: string): GitListing {
  const { siteDir, scope, prefix } = started;
  const listing = EMPTY_LISTING();
  const modified = new Set<string>();
  for (let at = 0; at < changes.length; ) {
    const end = changes.indexOf("\0", at);
    if (end < 0) break;
    const tag = changes.charCodeAt(at);
    const entry = changes.slice(at + 2, end);
    at = end + 1;
    if (tag === QUESTION) addUntracked(listing, entry);
    else modified.add(entry); // C (modified) or R (deleted)
  }
  const inScope = scope === undefined ? undefined : scope.map((dir) => `${dir}/`);
  let previous = "";
  for (let i = 0; i < index.paths.length; i++) {
    let file = index.paths[i]!;
    if (prefix !== "") {
      if (!file.startsWith(prefix)) continue;
      file = file.slice(prefix.length);
    }
    if (file === previous) continue; // conflicted: stages 1-3 of one path
    previous = file;
    if (inScope !== undefined && !inScope.some((dir) => file.startsWith(dir))) continue;
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

/** An untracked file, or a wholly untracked directory (a trailing `/`) to walk. */
function addUntracked(listing: GitListing, entry: string): void {
  if (entry.endsWith("/")) listing.walkDirs.push(entry.slice(0, -1));
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

function parseConfig(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const record of text.split("\0")) {
    if (!record) continue;
    const newline = record.indexOf("\n");
    settings.set((newline < 0 ? record : record.slice(0, newline)).toLowerCase(), newline < 0 ? "true" : record.slice(newline + 1));
  }
  return settings;
}

/**
 * `.gitattributes` the listing cannot show: between the site and the work tree root, between
 * the site and each scope directory, `info/attributes`, and the global and system files.
 */
function attributeFilesOutsideListing(siteDir: string, gitEntry: string, attributesFile: string | undefined, scope: readonly string[]): boolean {
  const inside = new Set<string>();
  for (const dir of scope) for (let at = 0; at >= 0; at = dir.indexOf("/", at + 1)) inside.add(dir.slice(0, at));
  for (const dir of inside) if (existsSync(path.join(siteDir, dir, ".gitattributes"))) return true;
  const top = path.dirname(gitEntry);
  for (let dir = path.dirname(path.resolve(siteDir)); dir.length >= top.length; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ".gitattributes"))) return true;
    if (dir === path.dirname(dir)) break;
  }
  const candidates = [path.join(commonGitDir(gitEntry), "info", "attributes"), "/etc/gitattributes", "/usr/local/etc/gitattributes"];
  const home = os.homedir();
  if (attributesFile) candidates.push(attributesFile.startsWith("~/") ? path.join(home, attributesFile.slice(2)) : attributesFile);
  else candidates.push(path.join(process.env.XDG_CONFIG_HOME || path.join(home, ".config"), "git", "attributes"));
  return candidates.some((file) => existsSync(file));
}

/** The git directory a `.git` entry stands for: itself, or where its `gitdir:` line points (worktrees, submodules). */
function gitDirOf(gitEntry: string): string {
  try {
    if (!statSync(gitEntry).isDirectory()) {
      const pointer = /^gitdir:\s*(.*)$/m.exec(readFileSync(gitEntry, "utf8"))?.[1]?.trim();
      if (pointer) return path.resolve(path.dirname(gitEntry), pointer);
    }
  } catch {
    // Unreadable: the index is not found, and the listing falls back to git ls-files.
  }
  return gitEntry;
}

function commonGitDir(gitEntry: string): string {
  const gitDir = gitDirOf(gitEntry);
  try {
    const common = path.join(gitDir, "commondir");
    if (existsSync(common)) return path.resolve(gitDir, readFileSync(common, "utf8").trim());
  } catch {
    // Unreadable gitfile: info/attributes cannot be found; git itself will fail and we fall back.
  }
  return gitDir;
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
