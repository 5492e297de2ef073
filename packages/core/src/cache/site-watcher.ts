// The site watcher: a background process a no-op plan leaves for a large site (Linux only), so
// that the next no-op plans need not ask git for its stat pass over every file. It watches, with
// inotify (fs.watch), every directory git's listing of the site depends on, and the files
// outside the site that change what git reports (the index, git's config files); runs git's
// listing once it watches; and then answers plans with that listing for as long as nothing it
// watches changes. At the first change of any kind it exits: it never tracks changes, so it can
// never track one wrongly. docs/design.md, "Site watcher", has the why and the protocol.
//
// Run as `node site-watcher.js SITE_DIR` (site-watcher-client.ts's startSiteWatcher); `STEPWISE_WATCH_IDLE_MS`
// sets how long it waits for a question before it exits (15 minutes).
import { existsSync, lstatSync, readFileSync, realpathSync, renameSync, rmSync, statfsSync, statSync, watch, type FSWatcher } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { findGitEntry, git, gitDirOf, settleListing, startGitListing } from "../fingerprint/git-start.js";
import { readGitIndex } from "../fingerprint/git-index.js";
import { refuseSiteWatcher, WATCHER_PROTOCOL, watcherSocketPath, type WatcherReply, type WatcherRequest } from "../fingerprint/site-watcher-client.js";
import { environmentKey } from "./plan-memo.js";

/**
 * File systems whose inotify events are complete for changes made on this machine (statfs
 * magic numbers). Not network file systems (another machine's writes raise no event), FUSE or
 * anything unknown: there, no watcher runs and plans ask git.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0xf2f52010, // f2fs
  0x794c7630, // overlayfs
]);

const DEFAULT_IDLE_MS = 15 * 60_000;
/** How often the watcher checks that it is still the site's (its socket in place) and not idle. */
const CHECK_EVERY_MS = 5_000;
const MAX_REQUEST_BYTES = 4096;

/** Why the watcher stops, for `STEPWISE_TRACE=1` (its stderr is discarded when a plan starts it). */
function log(message: string): void {
  if (process.env.STEPWISE_TRACE === "1") process.stderr.write(`site watcher ${process.pid}: ${message}\n`);
}

export async function runSiteWatcher(siteArg: string | undefined): Promise<void> {
  const watchers: FSWatcher[] = [];
  let server: net.Server | undefined;
  /** Its socket's inode once published: removed at exit only while it is still this one. */
  let socketIno: number | undefined;
  let socketPath: string | undefined;
  let ownSocket: string | undefined;
  let ready = false;
  let siteDir: string | undefined;
  /** Exits, removing its socket if it is still the published one. `lasting`: no plan starts another for an hour (see refuseSiteWatcher). */
  function stop(reason: string, lasting = false): void {
    log(`stops: ${reason}`);
    if (lasting && siteDir) refuseSiteWatcher(siteDir, reason);
    for (const watcher of watchers) watcher.close();
    server?.close();
    try {
      if (socketPath && socketIno !== undefined && lstatSync(socketPath).ino === socketIno) rmSync(socketPath, { force: true });
    } catch {
      // gone already, or another watcher's now
    }
    if (ownSocket) rmSync(ownSocket, { force: true });
    process.exit(0);
  }
  process.on("uncaughtException", (error) => stop(`failed: ${error.message}`));
  process.on("unhandledRejection", (error) => stop(`failed: ${String(error)}`));

  if (!siteArg || process.platform !== "linux") return stop("not started: Linux only, and a site directory is needed");
  process.title = "stepwise site watcher";
  try {
    os.setPriority(10); // it mostly sleeps; its start (git's listing) must not slow the user's next command
  } catch {
    // not permitted: no matter
  }
  siteDir = path.resolve(siteArg);
  let physical: string;
  try {
    physical = realpathSync(siteDir);
  } catch {
    return stop("the site is gone");
  }
  const gitEntry = findGitEntry(physical);
  if (!gitEntry) return stop("not in a git work tree");
  const gitDir = gitDirOf(gitEntry);
  const workTree = path.dirname(gitEntry);
  const relative = path.relative(workTree, physical).split(path.sep).join("/");
  const prefix = relative === "" ? "" : `${relative}/`;
  for (const dir of [physical, gitDir]) {
    let type: number;
    try {
      type = statfsSync(dir).type;
    } catch {
      return stop(`cannot tell the file system of ${dir}`);
    }
    if (!LOCAL_FILE_SYSTEMS.has(type)) return stop(`${dir} is on a file system whose changes inotify may not report (0x${type.toString(16)})`, true);
  }
  const index = readGitIndex(path.join(gitDir, "index"));
  if (!index) return stop("the index is one this reader does not follow (split, sparse, another version)", true);

  // What git's listing of the site depends on inside the site: the site and every directory
  // holding tracked files (with those between), the directories the untracked cache stats
  // (git-listing.ts's keepUntracked): an entry added, removed, renamed, written or chmod'ed in
  // one of them raises an event on it. Directories without tracked files are listed by git as
  // one entry (`--directory`): what happens inside them changes nothing it reports.
  const dirs = new Set<string>([""]);
  for (const file of index.paths) {
    if (!file.startsWith(prefix)) continue;
    if (file.startsWith(`${prefix}.stepwise/`)) return stop("files under .stepwise/ are tracked: every plan would change what this watches", true);
    for (let slash = file.lastIndexOf("/"); slash > prefix.length; slash = file.lastIndexOf("/", slash - 1)) {
      const dir = file.slice(prefix.length, slash);
      if (dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  // inotify watches are one budget per user, shared with editors and other tools: this takes no
  // more than a quarter of it, so that it never makes theirs fail.
  const budget = Number(readFileSync("/proc/sys/fs/inotify/max_user_watches", { encoding: "utf8", flag: "r" }).trim()) || 8192;
  if (dirs.size + 16 > budget / 4) return stop(`${dirs.size} directories to watch: more than a quarter of fs.inotify.max_user_watches (${budget})`, true);
  socketPath = watcherSocketPath(siteDir);
  ownSocket = path.join(path.dirname(socketPath), `watch-${process.pid}.sock`);

  const changed = (where: string) => () => stop(`${ready ? "" : "before it was ready: "}a change in ${where}`);
  const filtered = new Map<string, Set<string>>();
  try {
    const base = physical.endsWith(path.sep) ? physical : physical + path.sep;
    for (const dir of dirs) {
      const full = dir === "" ? physical : base + dir;
      const watcher = watch(full, { persistent: true }, changed(full));
      watcher.on("error", changed(full));
      watchers.push(watcher);
    }
    // Outside the site, only some names count: the index (git renames a new one over it),
    // git's config files (they can change what git reports: core.fileMode, core.ignoreStat, ...)
    // and the attributes files.
    const home = os.homedir();
    const xdg = process.env.XDG_CONFIG_HOME || path.join(home, ".config");
    const outside = [
      path.join(gitDir, "index"),
      path.join(gitDir, "config"),
      path.join(gitDir, "config.worktree"),
      path.join(gitDir, "info", "attributes"),
      path.join(home, ".gitconfig"),
      path.join(xdg, "git", "config"),
      path.join(xdg, "git", "attributes"),
      "/etc/gitconfig",
      "/etc/gitattributes",
      "/usr/local/etc/gitconfig",
      "/usr/local/etc/gitattributes",
      ...[process.env.GIT_CONFIG_GLOBAL, process.env.GIT_CONFIG_SYSTEM].filter((file): file is string => !!file && path.isAbsolute(file)),
      ...(await configOrigins(physical)),
    ];
    for (const file of outside) {
      // The nearest directory that is there, and the name in it that leads to the file: its
      // creation, removal or change is the event that counts.
      let dir = path.dirname(file);
      let name = path.basename(file);
      while (!existsSync(dir) && path.dirname(dir) !== dir) {
        name = path.basename(dir);
        dir = path.dirname(dir);
      }
      const names = filtered.get(dir) ?? new Set<string>();
      names.add(name);
      filtered.set(dir, names);
    }
    for (const [dir, names] of filtered) {
      const watcher = watch(dir, { persistent: true }, (_event, name) => {
        if (name === null || names.has(String(name))) stop(`${ready ? "" : "before it was ready: "}a change of ${path.join(dir, String(name))}`);
      });
      watcher.on("error", changed(dir));
      watchers.push(watcher);
    }
  } catch (error) {
    // ENOSPC: fs.inotify.max_user_watches reached by others; ENOENT: a directory removed meanwhile.
    return stop(`cannot watch: ${(error as Error).message}`, (error as NodeJS.ErrnoException).code === "ENOSPC");
  }

  // Watching now: git's listing from here on stays true until an event says otherwise.
  const started = startGitListing(siteDir, undefined, true);
  const settled = started ? await settleListing(started) : undefined;
  if (!started || !settled || settled.identity === undefined) return stop("git could not list the site");
  if (started.indexChecksum !== index.checksum) return stop("the index changed while it started");
  const answer: WatcherReply = { protocol: WATCHER_PROTOCOL, clean: true, pid: process.pid, prefix, index: index.checksum, modified: settled.modifiedText, untracked: settled.untrackedText };
  const environment = environmentKey();

  let lastQuestion = Date.now();
  // Half-open: a plan sends its question and ends its side; this side stays open for the answer.
  server = net.createServer({ allowHalfOpen: true }, (socket) => {
    lastQuestion = Date.now();
    let received = "";
    let asked = false;
    socket.setEncoding("utf8");
    socket.setTimeout(5000, () => socket.destroy()); // a client that never asks
    socket.on("error", () => socket.destroy());
    socket.on("end", () => {
      if (!asked) socket.destroy();
    });
    socket.on("data", (chunk: string) => {
      if (asked) return;
      received += chunk;
      if (received.length > MAX_REQUEST_BYTES) socket.destroy();
      else if (received.includes("\n")) {
        asked = true;
        // Answered after this turn's poll phase: every inotify event queued before the question
        // arrived (any change made before the plan started) has been handled, and stopped this.
        setImmediate(() => socket.end(`${JSON.stringify(reply(received.slice(0, received.indexOf("\n"))))}\n`));
      }
    });
  });
  const reply = (text: string): WatcherReply | { protocol: number; clean: false; pid: number; reason: string } => {
    let request: Partial<WatcherRequest> | undefined;
    try {
      request = JSON.parse(text) as Partial<WatcherRequest>;
    } catch {
      request = undefined;
    }
    if (request?.protocol !== WATCHER_PROTOCOL) return { protocol: WATCHER_PROTOCOL, clean: false, pid: process.pid, reason: "another protocol" };
    if (request.environment !== environment) return { protocol: WATCHER_PROTOCOL, clean: false, pid: process.pid, reason: "watching for another environment" };
    return answer;
  };
  server.on("error", () => stop("its socket failed"));
  const listening = ownSocket;
  rmSync(listening, { force: true });
  await new Promise<void>((resolve) => server!.listen(listening, resolve));
  try {
    // Published whole: a plan finds a socket that listens, or none. A watcher already there
    // is replaced, and stops when it sees its socket gone.
    socketIno = lstatSync(listening).ino;
    renameSync(listening, socketPath);
    ownSocket = undefined;
  } catch {
    return stop("cannot publish its socket");
  }
  ready = true;
  log(`watching ${dirs.size} directories of ${siteDir} (${filtered.size} outside)`);

  const idleMs = Math.max(1000, Number(process.env.STEPWISE_WATCH_IDLE_MS) || DEFAULT_IDLE_MS);
  setInterval(() => {
    let ino: number | undefined;
    try {
      ino = statSync(socketPath!).ino;
    } catch {
      ino = undefined;
    }
    if (ino !== socketIno) {
      socketIno = undefined; // not ours to remove
      stop("its socket was replaced or removed");
    } else if (Date.now() - lastQuestion > idleMs) stop("idle");
  }, Math.min(CHECK_EVERY_MS, idleMs));
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => stop(signal));
}

/** The config files git read for the site (`include.path` ones too): any of them can change what git reports. */
async function configOrigins(siteDir: string): Promise<string[]> {
  const run = await git(siteDir, ["config", "--list", "--show-origin", "-z"]);
  if (run.code !== 0) return [];
  const files = new Set<string>();
  const fields = run.stdout.toString("utf8").split("\0");
  // -z with --show-origin: origin NUL, key NEWLINE value NUL, ...
  for (let at = 0; at + 1 < fields.length; at += 2) {
    const origin = fields[at]!;
    if (origin.startsWith("file:")) files.add(path.resolve(siteDir, origin.slice("file:".length)));
  }
  return [...files];
}

void runSiteWatcher(process.argv[2]);
