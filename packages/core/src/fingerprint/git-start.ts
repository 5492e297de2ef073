// The part of the git listing that starts git: loaded first thing by a command that will plan
// (see prefetch.ts), so it imports nothing beyond Node's fs, path, os and child_process, the
// caches it reads (cache/untracked-cache.ts, cache/no-file-inputs.ts) and the site watcher's
// client (site-watcher-client.ts, which loads node:net only to ask one), which import no more.
import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { hadNoFileInputs } from "../cache/no-file-inputs.js";
import { ownSpawn } from "../cache/plan-memo.js";
import { statLine } from "../cache/stat-line.js";
import { directoriesUnchanged, readUntrackedCache, type UntrackedRecord } from "../cache/untracked-cache.js";
import { trace } from "../log/trace.js";
import { compactKey } from "./node-crypto.js";
import { askSiteWatcher, settingsKey, siteWatcherMayRun, type WatcherAnswer, type WatcherResult } from "./site-watcher-client.js";

/** Environment variables that would point git at another repository than the site's. */
const REPOSITORY_VARIABLES = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"];

function gitEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: "0", GIT_TERMINAL_PROMPT: "0" };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}

export interface GitRun {
  code: number | null;
  stdout: Buffer;
}

/**
 * What the copies of this module in one process share. The CLI bundles a copy into its own
 * entry (so git starts before any other file is resolved or read), and core's engine has its
 * own: the prefetched listings, the sites listed whole and the output counter live on
 * `globalThis` under a key that names this layout's version. A CLI and a core that disagree on
 * the version share nothing: the engine then finds no prefetch and starts git itself, which
 * costs time, never a wrong listing. Change the version in the key whenever this interface or
 * {@link StartedListing} changes.
 */
interface SharedGitState {
  /** Listings prefetched by site directory (resolved); see {@link takePrefetched}. */
  readonly prefetches: Map<string, StartedListing | undefined>;
  /**
   * Sites listed whole by a prefetch: later listings of them in this process are whole too, so
   * a deploy's listing has the same identity as the preview plan's before it, and as the next
   * command's prefetch.
   */
  readonly wholeSites: Set<string>;
  /** What asking the site watcher came to, by site (see {@link siteWatcherState}). */
  readonly watcherStates: Map<string, WatcherState>;
  outputCounter: number;
}
const SHARED_KEY = Symbol.for("stepwise.git-start.v3");
const shared: SharedGitState = ((globalThis as Record<symbol, unknown>)[SHARED_KEY] ??= {
  prefetches: new Map(),
  watcherStates: new Map(),
  wholeSites: new Set(),
  outputCounter: 0,
} satisfies SharedGitState) as SharedGitState;

/**
 * Runs git with its output going to an unlinked temporary file rather than a pipe: git never
 * waits for this process to drain a pipe (it may be busy loading modules), and the output,
 * megabytes for a large index, is read back with one call instead of dozens of stream chunks.
 */
export function git(cwd: string, args: readonly string[], input?: string): Promise<GitRun> {
  const failed: GitRun = { code: null, stdout: Buffer.alloc(0) };
  let fd: number;
  const file = path.join(os.tmpdir(), `stepwise-git-${process.pid}-${shared.outputCounter++}`);
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
      child = ownSpawn(() => spawn("git", args, { cwd, env: gitEnvironment(), stdio: [input === undefined ? "ignore" : "pipe", fd, "ignore"], windowsHide: true }));
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
 * What asking the site watcher came to: its {@link WatcherResult} state, or `stale` for a clean
 * answer made for another index or other git settings (a watcher that runs, but no longer
 * serves); undefined when it was not asked.
 */
export type WatcherState = WatcherResult["state"] | "stale";

/** What asking the site watcher of `siteDir` came to in this process (see {@link WatcherState}). */
export function siteWatcherState(siteDir: string): WatcherState | undefined {
  return shared.watcherStates.get(path.resolve(siteDir));
}

/** The git index of the work tree `siteDir` is in; undefined outside one. */
export function gitIndexFile(siteDir: string): string | undefined {
  const gitEntry = findGitEntry(siteDir);
  return gitEntry ? path.join(gitDirOf(gitEntry), "index") : undefined;
}

/** The listing prefetched for `siteDir` (resolved), once: a later collection (deploy's second) must see the tree as it is then. */
export function takePrefetched(key: string): StartedListing | undefined {
  const prefetched = shared.prefetches.get(key);
  if (prefetched) shared.prefetches.delete(key);
  return prefetched;
}

/**
 * Starts git's part of `openGitListing` (git-listing.ts) for `siteDir` now, for the next read of that
 * directory to take: a command that will plan calls this first thing, so git's stat pass
 * runs on another core while the command loads its modules, site and plugins.
 */
export function prefetchGitListing(siteDir: string, options: { alone?: boolean; watched?: boolean } = {}): void {
  const key = path.resolve(siteDir);
  // A site whose last plan had no file inputs: nobody would read the listing.
  if (shared.prefetches.has(key) || hadNoFileInputs(key)) return;
  shared.wholeSites.add(key);
  shared.prefetches.set(key, startGitListing(key, undefined, options.alone === true, options.watched === true));
}

/**
 * The identity of the listing prefetched for `siteDir` (see {@link SettledListing}), leaving
 * the listing for the engine to take: undefined when none was prefetched or git cannot vouch.
 */
export async function prefetchedIdentity(siteDir: string): Promise<string | undefined> {
  const started = shared.prefetches.get(path.resolve(siteDir));
  return started ? (await settleListing(started))?.identity : undefined;
}

/**
 * Beyond this many directories, the whole site is listed: git matches every index entry
 * against every pathspec, which costs more than it saves when the globs cover most of the
 * tree (measured: 50 pathspecs over 20,000 files add ~15%).
 */
const MAX_SCOPE = 16;

/** Git's processes under way for one listing, and where the index they compare with is. */
export interface StartedListing {
  siteDir: string;
  gitEntry: string;
  /** The site's path inside the work tree, with a trailing `/` ("" at the top). */
  prefix: string;
  indexFile: string;
  indexStat: string;
  /** The index's trailing checksum (hex) when the listing started; undefined without one. */
  indexChecksum: string | undefined;
  scope: readonly string[] | undefined;
  /** `git diff-files --name-only`: tracked files that differ from the index. */
  modified: Promise<GitRun>;
  /** `git ls-files -o --directory` under way; undefined while the untracked cache or a site watcher may serve instead. */
  untracked: Promise<GitRun> | undefined;
  /** The site watcher's answer, when one was asked (see site-watcher-client.ts): it stands for both of git's outputs. */
  watcher?: Promise<WatcherAnswer | undefined>;
  /** The untracked cache, kept for this index: its directories are checked by {@link untrackedListing}. */
  untrackedCache: UntrackedRecord | undefined;
  /** When the untracked listing was started (ms since the epoch); undefined if it came from the cache. */
  untrackedStartedAt: number | undefined;
  config: Promise<GitRun>;
  /** {@link settleListing}'s answer, once: the plan memo's check and the engine's listing share it. */
  settled?: Promise<SettledListing | undefined>;
}

/** What git answered for a started listing, and the identity it makes. */
export interface SettledListing {
  modifiedText: string;
  untrackedText: string;
  settingsText: string;
  attributesOutside: boolean;
  /**
   * Equal identities are equal listings (see `GitListingHandle.identity` in git-listing.ts);
   * undefined when that cannot be vouched for: an index without a checksum, or one that
   * changed while git listed the site.
   */
  identity: string | undefined;
}

/**
 * Waits for git's processes of a started listing and works out its identity, without reading
 * the index. Undefined when git cannot list the site for stepwise: git failed, the repository
 * is not SHA-1, or `core.autocrlf` converts line endings.
 */
export function settleListing(started: StartedListing): Promise<SettledListing | undefined> {
  // Whatever goes wrong here (an unreadable directory, no home directory) leaves git's view
  // unknown: the caller lists the site without it, never fails for it.
  return (started.settled ??= settle(started).catch(() => undefined));
}

async function settle(started: StartedListing): Promise<SettledListing | undefined> {
  const untrackedRun = untrackedListing(started);
  const config = await started.config;
  if (config.code !== 0 && config.code !== 1) return undefined;
  const settingsText = config.stdout.toString("utf8");
  const settings = parseConfig(settingsText);
  const objectFormat = settings.get("extensions.objectformat");
  if (objectFormat !== undefined && objectFormat.toLowerCase() !== "sha1") return undefined;
  const autocrlf = settings.get("core.autocrlf")?.toLowerCase();
  if (autocrlf !== undefined && autocrlf !== "false") return undefined;
  const [modified, untracked] = await Promise.all([started.modified, untrackedRun]);
  trace("git done");
  if (modified.code !== 0 || untracked.code !== 0) return undefined;
  const modifiedText = modified.stdout.toString("utf8");
  const untrackedText = untracked.stdout.toString("utf8");
  const attributesOutside = attributeFilesOutsideListing(started.siteDir, started.gitEntry, settings.get("core.attributesfile"), started.scope ?? []);
  // "git-listing 3": a listing of version 2 did not walk a site git reports as one untracked
  // directory (`./`), so a file-inputs identity made from one must not match any more.
  const identity =
    started.indexChecksum !== undefined && statKey(started.indexFile) === started.indexStat
      ? compactKey(["git-listing 3", started.prefix, JSON.stringify(started.scope ?? null), started.indexChecksum, modifiedText, untrackedText, settingsText, String(attributesOutside)].join("\0"))
      : undefined;
  return { modifiedText, untrackedText, settingsText, attributesOutside, identity };
}

/** Settings of `git config -z` output by lowercase key, the last value winning (`true` for a key without one). */
export function parseConfig(text: string): Map<string, string> {
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
  return globalAttributeFiles(gitEntry, attributesFile).some((file) => existsSync(file));
}

/**
 * The attribute files outside the work tree: `info/attributes`, `core.attributesFile` (its
 * value, `~/` expanded) or the XDG one, and the system files.
 */
export function globalAttributeFiles(gitEntry: string, attributesFile: string | undefined): string[] {
  const home = os.homedir();
  return [
    path.join(commonGitDir(gitEntry), "info", "attributes"),
    "/etc/gitattributes",
    "/usr/local/etc/gitattributes",
    attributesFile
      ? attributesFile.startsWith("~/")
        ? path.join(home, attributesFile.slice(2))
        : attributesFile
      : path.join(process.env.XDG_CONFIG_HOME || path.join(home, ".config"), "git", "attributes"),
  ];
}

export const NOTHING: GitRun = { code: 0, stdout: Buffer.alloc(0) };

/**
 * Starts git's processes for a listing of `siteDir` (`scope`: see `openGitListing`). `alone`:
 * nothing else will be loading meanwhile (the plan memo's check), so git may use every core.
 * `watched`: the site's watcher, if one runs, is asked first for git's stat pass and untracked
 * listing (a plan's prefetch); git runs them only if it gives no clean answer.
 */
export function startGitListing(siteDir: string, scope?: readonly string[], alone = false, watched = false): StartedListing | undefined {
  let physical: string;
  try {
    physical = realpathSync(siteDir); // git works from the physical directory, so the prefix must too
  } catch {
    return undefined;
  }
  const gitEntry = findGitEntry(physical);
  if (!gitEntry) return undefined;
  const scoped = scope !== undefined && scope.length <= MAX_SCOPE && !scope.includes("") && !shared.wholeSites.has(siteDir) ? scope : undefined;
  const pathspecs = scoped ? ["--", ...scoped.map((dir) => `:(literal)${dir}`)] : [];
  const relative = path.relative(path.dirname(gitEntry), physical).split(path.sep).join("/");
  const prefix = relative === "" ? "" : `${relative}/`;
  const indexFile = path.join(gitDirOf(gitEntry), "index");
  const { stat: indexStat, checksum: indexChecksum } = indexIdentity(indexFile);
  const none = scoped?.length === 0;
  // A watcher's answer is for the whole site, and for the index and git settings it names: any
  // other, and git runs.
  const watcher = watched && !none && !scoped && indexChecksum !== undefined ? askWatcher(siteDir, prefix, indexChecksum) : undefined;
  // Tracked changes first: the longest of the three. On two cores git's preload threads
  // (one lstat pass per core) would take the core this process loads on: measured, a no-op
  // plan then takes 12 ms longer than with git on one core and this process on the other.
  // Alone, git's threads take nothing from this process.
  const threads = alone || os.availableParallelism() > 2 ? [] : ["-c", "core.preloadIndex=false"];
  const diffFiles = () => git(siteDir, [...threads, "diff-files", "-z", "--name-only", "--relative", "--no-color", "--no-ext-diff", "--ignore-submodules", ...pathspecs]);
  const modified = none
    ? Promise.resolve(NOTHING)
    : watcher
      ? watcher.then((answer) => (answer ? { code: 0, stdout: Buffer.from(answer.modified, "utf8") } : diffFiles()))
      : diffFiles();
  const config = git(siteDir, ["config", "-z", "--get-regexp", "^(core\\.autocrlf|core\\.attributesfile|extensions\\.objectformat)$"]);
  // The untracked cache is read now, but its directories are checked only when the listing is
  // awaited: while git's stat pass runs on both cores, 1,700 lstat calls here would take four
  // times as long. When the index is not the one it was kept for, git starts at once. (With a
  // watcher to ask, both wait for its answer: see untrackedListing.)
  const untrackedCache = none || scoped || indexChecksum === undefined || watcher ? undefined : readUntrackedCache(siteDir, prefix, indexChecksum);
  const untrackedStartedAt = none || untrackedCache || watcher ? undefined : Date.now();
  const untracked = none ? Promise.resolve(NOTHING) : untrackedCache || watcher ? undefined : git(siteDir, ["ls-files", "-z", "-o", "--directory", ...pathspecs]);
  trace("git started");
  return { siteDir, gitEntry, prefix, indexFile, indexStat, indexChecksum, scope: scoped, modified, untracked, watcher, untrackedCache, untrackedStartedAt, config };
}

/** The site watcher's answer when it is for this plan's place, index and git settings (see {@link siteWatcherState}). */
function askWatcher(siteDir: string, prefix: string, indexChecksum: string): Promise<WatcherAnswer | undefined> {
  if (!siteWatcherMayRun(siteDir)) {
    trace("site watcher: none");
    shared.watcherStates.set(siteDir, "none");
    return Promise.resolve(undefined);
  }
  return Promise.all([askSiteWatcher(siteDir), gitSettingsKey(siteDir)]).then(([result, settings]) => {
    if (result.state !== "clean") {
      shared.watcherStates.set(siteDir, result.state);
      return undefined;
    }
    const { answer } = result;
    // Made for another index or place (it stops when the index changes), or with git settings
    // other than this plan's (changed since, or another HOME): git answers, and the next plan
    // that keeps its memo starts a watcher for these.
    const fits = answer.prefix === prefix && answer.index === indexChecksum && answer.settings === settings;
    if (!fits) trace("site watcher: made for another index or other git settings");
    shared.watcherStates.set(siteDir, fits ? "clean" : "stale");
    return fits ? answer : undefined;
  });
}

/** {@link settingsKey} of git's settings for `dir`; undefined when git cannot say. */
export function gitSettingsKey(dir: string): Promise<string | undefined> {
  return git(dir, ["config", "--list", "-z"]).then((run) => (run.code === 0 ? settingsKey(run.stdout) : undefined));
}

/**
 * The untracked listing of a started listing: git's, or the cached one when no directory git
 * walked for it changed since (adding, removing or renaming an entry changes its directory's
 * mtime and ctime); git is started now if one did.
 */
export function untrackedListing(started: StartedListing): Promise<GitRun> {
  if (started.untracked) return started.untracked;
  const { watcher } = started;
  started.untracked = watcher
    ? watcher.then((answer) => {
        if (answer) return { code: 0, stdout: Buffer.from(answer.untracked, "utf8") };
        started.untrackedCache = readUntrackedCache(started.siteDir, started.prefix, started.indexChecksum!); // asked only with a checksum
        return cachedOrGitUntracked(started);
      })
    : cachedOrGitUntracked(started);
  return started.untracked;
}

function cachedOrGitUntracked(started: StartedListing): Promise<GitRun> {
  const cache = started.untrackedCache;
  if (cache && directoriesUnchanged(started.siteDir, cache.dirs)) {
    trace("untracked listing cached");
    return Promise.resolve({ code: 0, stdout: Buffer.from(cache.untracked, "utf8") });
  }
  started.untrackedStartedAt = Date.now();
  const pathspecs = started.scope ? ["--", ...started.scope.map((dir) => `:(literal)${dir}`)] : [];
  return git(started.siteDir, ["ls-files", "-z", "-o", "--directory", ...pathspecs]);
}

/** The {@link statLine} of a file (the git index): it changed under the listing if this did. */
export function statKey(file: string): string {
  try {
    return statLine(statSync(file));
  } catch {
    return "";
  }
}

/**
 * The index's {@link statKey} and its trailing checksum: git writes a SHA-1 of the whole file
 * at its end (unless `index.skipHash`, which writes zeros), so the last 20 bytes name its content.
 */
function indexIdentity(file: string): { stat: string; checksum: string | undefined } {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const stat = fstatSync(fd);
    const size = stat.size;
    const key = statLine(stat);
    if (size < 32) return { stat: key, checksum: undefined };
    const trailer = Buffer.alloc(20);
    if (readSync(fd, trailer, 0, 20, size - 20) !== 20) return { stat: key, checksum: undefined };
    const checksum = trailer.toString("hex");
    return { stat: key, checksum: /^0+$/.test(checksum) ? undefined : checksum };
  } catch {
    return { stat: "", checksum: undefined };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The git directory a `.git` entry stands for: itself, or where its `gitdir:` line points (worktrees, submodules). */
export function gitDirOf(gitEntry: string): string {
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

export function commonGitDir(gitEntry: string): string {
  const gitDir = gitDirOf(gitEntry);
  try {
    const common = path.join(gitDir, "commondir");
    if (existsSync(common)) return path.resolve(gitDir, readFileSync(common, "utf8").trim());
  } catch {
    // Unreadable gitfile: info/attributes cannot be found; git itself will fail and we fall back.
  }
  return gitDir;
}

