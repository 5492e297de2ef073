// What a plan asks a site watcher (cache/site-watcher.ts), and how a plan that kept its memo starts
// one. Part of `@stepwise/core/prefetch`, loaded by the CLI's entry before anything else: it
// imports only Node's built-ins and modules that import no more (`node:net` only when a watcher's
// socket is there). docs/design.md, "Site watcher", describes the protocol.
import { spawn } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cachePath } from "../cache/cache-file.js";
import { bytesChecksum } from "../cache/checksum.js";
import { environmentKey, ownSpawn } from "../cache/plan-memo.js";
import { trace } from "../log/trace.js";

/** Changes whenever a request or an answer changes shape: a watcher and a plan of other versions ignore each other. */
export const WATCHER_PROTOCOL = 1;

/** The watcher's socket, in the site's cache directory (0700: only its owner can connect). */
export const watcherSocketPath = (siteDir: string): string => cachePath(siteDir, "watch.sock");

/**
 * Left by a watcher that cannot watch the site for a lasting reason (its file system, too many
 * directories, tracked files under .stepwise/): no plan starts another for {@link REFUSAL_MS}.
 */
const refusalPath = (siteDir: string): string => cachePath(siteDir, "watch-refused");
const REFUSAL_MS = 3600_000;

/** Notes that the site cannot be watched, and why (for a reader of the cache directory); see {@link refusalPath}. */
export function refuseSiteWatcher(siteDir: string, reason: string): void {
  try {
    writeFileSync(refusalPath(siteDir), `${reason}\n`);
  } catch {
    // Only time is lost: the next plan starts a watcher that finds the same.
  }
}

/**
 * A Unix socket's path must fit in `sockaddr_un` (108 bytes on Linux, with its NUL); the watcher
 * first listens on `watch-<pid>.sock` and renames it into place, so that name must fit too.
 */
const MAX_SOCKET_PATH = 100;

/** How long a plan waits for a watcher's answer before it asks git instead (a watcher swapped out, stopped by a debugger). */
const ANSWER_TIMEOUT_MS = 200;

/**
 * Below this size of the git index (about 12,000 files), git's stat pass costs less than a
 * watcher's upkeep is worth: no watcher is started unless `STEPWISE_WATCH=1`.
 */
export const WATCH_MIN_INDEX_BYTES = 1 << 20;

/** What a watcher vouches for: git's outputs for the site as they would be now, made after it began to watch. */
export interface WatcherAnswer {
  /** The site's path inside the work tree (`StartedListing.prefix`). */
  prefix: string;
  /** The trailing checksum of the index the outputs were made with. */
  index: string;
  /** {@link settingsKey} of `git config --list -z` when they were made: a plan with other settings asks git. */
  settings: string;
  /** `git diff-files -z --name-only --relative ...` of the whole site. */
  modified: string;
  /** `git ls-files -z -o --directory` of the whole site. */
  untracked: string;
}

export interface WatcherRequest {
  protocol: number;
  /** {@link environmentKey} of the asking plan: git's outputs depend on the environment. */
  environment: string;
}

/**
 * A checksum of git's settings as `git config --list -z` prints them for the site: every file
 * git read, includes and conditional includes resolved, `GIT_CONFIG_*` applied. A watcher does
 * not watch the files (they may be links, includes may appear, `includeIf` may follow the
 * branch): it says which settings its answer was made with, and the plan compares.
 */
export const settingsKey = (listing: Uint8Array): string => `${listing.length} ${bytesChecksum(listing)}`;

/** A watcher's answer as sent: `pid` names the watcher (`kill` stops it; it also stops by itself). */
export type WatcherReply = { protocol: number; clean: true; pid: number } & WatcherAnswer;

const isReply = (value: unknown): value is WatcherReply => {
  if (typeof value !== "object" || value === null) return false;
  const reply = value as Record<string, unknown>;
  return reply.protocol === WATCHER_PROTOCOL && reply.clean === true && ["prefix", "index", "settings", "modified", "untracked"].every((key) => typeof reply[key] === "string");
};

/** Whether a watcher may be running for the site: Linux, not `STEPWISE_WATCH=0`, its socket there. */
export function siteWatcherMayRun(siteDir: string): boolean {
  return process.env.STEPWISE_WATCH !== "0" && process.platform === "linux" && existsSync(watcherSocketPath(siteDir));
}

/**
 * What asking the site's watcher came to: its answer (`clean`); a watcher that runs but does
 * not answer this plan (`refused`: it watches for another environment or speaks another
 * protocol); or no watcher (`none`: no socket, nothing listening, no answer in time; a watcher
 * that saw a change has exited).
 */
export type WatcherResult = { state: "clean"; answer: WatcherAnswer } | { state: "refused" | "none" };

/** Asks the site's watcher, if one runs, for git's outputs (see {@link WatcherResult}). Never throws, never fails the plan. */
export async function askSiteWatcher(siteDir: string): Promise<WatcherResult> {
  if (!siteWatcherMayRun(siteDir)) {
    trace("site watcher: none");
    return { state: "none" };
  }
  const request: WatcherRequest = { protocol: WATCHER_PROTOCOL, environment: environmentKey() };
  const exchanged = await exchangeWithWatcher(siteDir, request, ANSWER_TIMEOUT_MS);
  const { reply } = exchanged;
  let result: WatcherResult;
  let why: string;
  if (isReply(reply)) {
    result = { state: "clean", answer: { prefix: reply.prefix, index: reply.index, settings: reply.settings, modified: reply.modified, untracked: reply.untracked } };
    why = "clean";
  } else if (typeof reply === "object" && reply !== null && typeof (reply as { reason?: unknown }).reason === "string") {
    result = { state: "refused" };
    why = (reply as { reason: string }).reason;
  } else {
    result = { state: "none" };
    why = exchanged.failed ?? "no answer";
  }
  trace(`site watcher: ${why}`);
  return result;
}

/**
 * Sends `message` as one line to the site's watcher and reads its one-line answer, parsed:
 * `reply` undefined, with why in `failed`, when it could not connect, the connection failed,
 * nothing came within `timeoutMs` (a watcher stopped with SIGSTOP still accepts) or the answer
 * is not JSON. Never throws.
 */
export function exchangeWithWatcher(siteDir: string, message: object, timeoutMs: number): Promise<{ reply?: unknown; failed?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let socket: import("node:net").Socket | undefined;
    const done = (outcome: { reply?: unknown; failed?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ failed: "no answer in time" }), timeoutMs);
    try {
      socket = process.getBuiltinModule("node:net").connect(watcherSocketPath(siteDir));
    } catch {
      done({ failed: "cannot connect" });
      return;
    }
    socket.on("error", () => done({ failed: "gone" }));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      try {
        done({ reply: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown });
      } catch {
        done({ failed: "no answer" });
      }
    });
    socket.end(`${JSON.stringify(message)}\n`);
  });
}

/**
 * Whether a plan that kept its memo should leave a watcher for the site: on Linux (inotify),
 * unless `STEPWISE_WATCH=0`; with `STEPWISE_WATCH=1` always, else only outside CI (`CI` set)
 * and for an index of {@link WATCH_MIN_INDEX_BYTES} or more.
 */
export function wantsSiteWatcher(siteDir: string, indexFile: string | undefined): boolean {
  const setting = process.env.STEPWISE_WATCH;
  if (setting === "0" || process.platform !== "linux" || indexFile === undefined) return false;
  if (Buffer.byteLength(path.join(path.dirname(watcherSocketPath(siteDir)), `watch-${"9".repeat(10)}.sock`)) > MAX_SOCKET_PATH) return false;
  if (setting !== "1" && process.env.CI) return false;
  try {
    const refused = statSync(refusalPath(siteDir), { throwIfNoEntry: false });
    if (refused && Date.now() - refused.mtimeMs < REFUSAL_MS) return false;
    return setting === "1" || statSync(indexFile).size >= WATCH_MIN_INDEX_BYTES;
  } catch {
    return false;
  }
}

/**
 * Starts a watcher for the site (`entry`: the watcher's module, `@stepwise/core/site-watcher`)
 * in the background, detached: it outlives this command, and stops by itself (see
 * cache/site-watcher.ts). A watcher already running for the site hands over to the new one.
 */
export function startSiteWatcher(siteDir: string, entry: string): void {
  try {
    const child = ownSpawn(() => spawn(process.execPath, [entry, path.resolve(siteDir)], { detached: true, stdio: "ignore", cwd: path.parse(process.cwd()).root, windowsHide: true }));
    child.on("error", () => {});
    child.unref();
    trace("site watcher started");
  } catch {
    // Only time is lost: the next plan asks git.
  }
}
