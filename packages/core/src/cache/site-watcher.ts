// The site watcher: a background process a no-op plan leaves for a large site (Linux only), so
// that the next no-op plans need not ask git for its stat pass over every file. It watches, with
// inotify (fs.watch), every directory git's listing of the site depends on, and the files
// outside the site that change what git reports (the index, attribute files); runs git's
// listing once it watches; and then answers plans with that listing for as long as nothing it
// watches changes. At the first change of any kind it exits: it never tracks changes, so it can
// never track one wrongly. git's settings are not watched but compared: the answer carries a
// checksum of `git config --list`, and a plan takes the answer only if its own is the same.
// docs/design.md, "Site watcher", has the why and the protocol.
//
// Run as `node site-watcher.js SITE_DIR` (site-watcher-client.ts's startSiteWatcher); `STEPWISE_WATCH_IDLE_MS`
// sets how long it waits for a question before it exits (15 minutes).
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statfsSync, statSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { findGitEntry, git, gitDirOf, gitSettingsKey, globalAttributeFiles, parseConfig, settleListing, startGitListing } from "../fingerprint/git-start.js";
import { readGitIndex } from "../fingerprint/git-index.js";
import { askSiteWatcher, exchangeWithWatcher, refuseSiteWatcher, settingsKey, WATCHER_PROTOCOL, watcherSocketPath, type WatcherReply, type WatcherRequest } from "../fingerprint/site-watcher-client.js";
import { cachePath } from "./cache-file.js";
import { environmentKey } from "./plan-memo.js";
import { trackedDirectories } from "./untracked-cache.js";

/**
 * File systems whose inotify events are complete for changes made on this machine (statfs
 * magic numbers, and the names /proc/self/mountinfo gives them). Not network file systems
 * (another machine's writes raise no event), FUSE or anything unknown: there, no watcher runs
 * and plans ask git.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0xf2f52010, // f2fs
  0x794c7630, // overlayfs
]);
const LOCAL_FILE_SYSTEM_NAMES = new Set(["ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "overlay"]);

const DEFAULT_IDLE_MS = 15 * 60_000;
/** How often the watcher checks that it is still the site's (its socket in place) and not idle. */
const CHECK_EVERY_MS = 5_000;
const MAX_REQUEST_BYTES = 4096;
/** What `/proc/PID/comm` holds for a watcher (process.title, cut to 15 bytes by the kernel). */
const COMM = "stepwise site w";

/** Why the watcher stops, for `STEPWISE_TRACE=1` (its stderr is discarded when a plan starts it). */
function log(message: string): void {
  if (process.env.STEPWISE_TRACE === "1") process.stderr.write(`site watcher ${process.pid}: ${message}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSiteWatcher(siteArg: string | undefined): Promise<void> {
  const watchers: FSWatcher[] = [];
  let server: net.Server | undefined;
  /** Its socket's inode once published: removed at exit only while it is still this one. */
  let socketIno: number | undefined;
  let socketPath: string | undefined;
  let ownSocket: string | undefined;
  let lockPath: string | undefined;
  let ready = false;
  let siteDir: string | undefined;
  /** Exits, removing its socket and lock if they are still its own. `lasting`: no plan starts another for an hour (see refuseSiteWatcher). */
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
    try {
      if (lockPath && readFileSync(lockPath, "utf8") === `${process.pid}\n`) rmSync(lockPath, { force: true });
    } catch {
      // gone already, or another watcher's now
    }
    process.exit(0);
  }
  process.on("uncaughtException", (error) => stop(`failed: ${error.message}`));
  process.on("unhandledRejection", (error) => stop(`failed: ${String(error)}`));
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => stop(signal));

  if (!siteArg || process.platform !== "linux") return stop("not started: Linux only, and a site directory is needed");
  // One that cannot get ready (a lock holder that never lets go, git that never answers) goes.
  setTimeout(() => ready || stop("not ready within a minute"), 60_000).unref();
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
  // The site's directory as the plans' path reaches it: a directory above it renamed raises no
  // event here, and the socket may then be reached through another path (the site moved) or
  // sit in another tree (a copy put in its place): checked before every answer.
  const root = statSync(physical);
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
  // A file system mounted inside the site (a bind mount, an NFS share on a subdirectory) must be
  // one inotify vouches for too; and a mount or unmount later inside the site or over it (over a
  // watched directory it raises no event) stops the watcher: those lines of the mount table are
  // compared at every question. Mounts elsewhere (a container's root file system) do not count.
  const mounts = siteMounts(physical);
  for (const mount of parseMounts(mounts)) {
    if ((mount.point === physical || mount.point.startsWith(`${physical}/`)) && !LOCAL_FILE_SYSTEM_NAMES.has(mount.type)) {
      return stop(`${mount.point} is on a file system whose changes inotify may not report (${mount.type})`, true);
    }
  }
  const index = readGitIndex(path.join(gitDir, "index"));
  if (!index) return stop("the index is one this reader does not follow (split, sparse, another version)", true);

  // What git's listing of the site depends on inside the site: the directories the untracked
  // cache stats (an entry added, removed, renamed, written or chmod'ed in one of them raises an
  // event on it).
  if (index.paths.some((file) => file.startsWith(`${prefix}.stepwise/`))) return stop("files under .stepwise/ are tracked: every plan would change what this watches", true);
  const dirs = trackedDirectories(index.paths, prefix);
  const settings = await git(physical, ["config", "--list", "-z"]);
  if (settings.code !== 0) return stop("git could not read its settings");
  const settingsBefore = settingsKey(settings.stdout);
  // A tracked file with more than one link can be written through a path in a directory this
  // does not watch, which raises no event in the site's: such files are watched themselves (an
  // inode's watch sees writes through any of its names). A link made after the watcher started
  // is not seen (docs/design.md, "Site watcher", the limits).
  const base = physical.endsWith(path.sep) ? physical : physical + path.sep;
  const linked: string[] = [];
  for (const file of index.paths) {
    if (!file.startsWith(prefix)) continue;
    const stat = lstatSync(base + file.slice(prefix.length), { throwIfNoEntry: false });
    if (stat?.isFile() && stat.nlink > 1) linked.push(base + file.slice(prefix.length));
  }
  // Outside the site, only some names count: the index (git renames a new one over it) and the
  // attribute files (they change how git compares a file whose stat changed). A name that is a
  // link is watched where it points too.
  const attributesFile = parseConfig(settings.stdout.toString("utf8")).get("core.attributesfile");
  const outside = new Set<string>();
  for (const file of [
    path.join(gitDir, "index"),
    path.join(gitDir, "info", "attributes"), // a linked worktree's own
    ...globalAttributeFiles(gitEntry, attributesFile).map((name) => path.resolve(workTree, name)),
  ]) {
    outside.add(file);
    try {
      outside.add(realpathSync(file));
    } catch {
      // not there (yet): its name is watched
    }
  }

  socketPath = watcherSocketPath(siteDir);
  ownSocket = path.join(path.dirname(socketPath), `watch-${process.pid}.sock`);
  lockPath = cachePath(siteDir, "watch.lock");
  const environment = environmentKey();
  let locked: boolean;
  try {
    locked = await takeSiteLock(siteDir, lockPath, settingsBefore);
  } catch (error) {
    lockPath = undefined;
    return stop(`cannot take the site's lock: ${(error as Error).message}`, true); // something that is no file in its place
  }
  if (!locked) {
    lockPath = undefined; // another watcher's
    return stop("another watcher runs or starts for the site");
  }

  // inotify watches are one budget per user, shared with editors and other tools: stepwise's
  // watchers take no more than a quarter of it, so that they never make theirs fail.
  const budget = Number(readFileSync("/proc/sys/fs/inotify/max_user_watches", "utf8").trim()) || 8192;
  const needed = dirs.size + linked.length + outside.size;
  if (needed + otherWatchersWatches() > budget / 4) {
    return stop(`${needed} watches, with those of the other site watchers, would be more than a quarter of fs.inotify.max_user_watches (${budget})`, true);
  }

  const changed = (where: string) => () => stop(`${ready ? "" : "before it was ready: "}a change in ${where}`);
  const filtered = new Map<string, Set<string>>();
  for (const file of outside) {
    // The nearest directory that is there, and the name in it that leads to the file: its
    // creation, removal or change is the event that counts.
    let dir = path.dirname(file);
    let name = path.basename(file);
    while (!existsSync(dir) && path.dirname(dir) !== dir) {
      name = path.basename(dir);
      dir = path.dirname(dir);
    }
    filtered.set(dir, (filtered.get(dir) ?? new Set<string>()).add(name));
  }
  try {
    for (const dir of dirs) {
      const full = dir === "" ? physical : base + dir;
      let watcher: FSWatcher;
      try {
        watcher = watch(full, { persistent: true }, changed(full));
      } catch (error) {
        // Not there (a sparse checkout, files deleted): the directory above it, watched too,
        // sees it come back.
        if ((error as NodeJS.ErrnoException).code === "ENOENT" && dir !== "") continue;
        throw error;
      }
      watcher.on("error", changed(full));
      watchers.push(watcher);
    }
    for (const file of linked) {
      const watcher = watch(file, { persistent: true }, changed(file));
      watcher.on("error", changed(file));
      watchers.push(watcher);
    }
    for (const [dir, names] of filtered) {
      const watcher = watch(dir, { persistent: true }, (_event, name) => {
        if (name === null || names.has(String(name))) stop(`${ready ? "" : "before it was ready: "}a change of ${path.join(dir, String(name))}`);
      });
      watcher.on("error", changed(dir));
      watchers.push(watcher);
    }
  } catch (error) {
    // ENOSPC: fs.inotify.max_user_watches reached (by others too): an hour's rest.
    return stop(`cannot watch: ${(error as Error).message}`, (error as NodeJS.ErrnoException).code === "ENOSPC");
  }

  // Watching now: git's listing from here on stays true until an event says otherwise. The
  // settings are read before and after it: equal, the listing was made with them.
  const started = startGitListing(siteDir, undefined, true);
  const settled = started ? await settleListing(started) : undefined;
  if (!started || !settled || settled.identity === undefined) return stop("git could not list the site");
  if (started.indexChecksum !== index.checksum) return stop("the index changed while it started");
  if ((await gitSettingsKey(physical)) !== settingsBefore) return stop("git's settings changed while it started");
  const answer: WatcherReply = {
    protocol: WATCHER_PROTOCOL,
    clean: true,
    pid: process.pid,
    prefix,
    index: index.checksum,
    settings: settingsBefore,
    modified: settled.modifiedText,
    untracked: settled.untrackedText,
  };

  let lastQuestion = Date.now();
  const refusal = (reason: string) => ({ protocol: WATCHER_PROTOCOL, clean: false as const, pid: process.pid, reason });
  const reply = (text: string): object => {
    let request: Partial<WatcherRequest> | undefined;
    try {
      request = JSON.parse(text) as Partial<WatcherRequest>;
    } catch {
      request = undefined;
    }
    if (request?.protocol !== WATCHER_PROTOCOL) return refusal("another protocol");
    if (request.environment !== environment) return refusal("watching for another environment");
    return answer;
  };
  // Half-open: a plan sends its question and ends its side; this side stays open for the answer.
  server = net.createServer({ allowHalfOpen: true }, (socket) => {
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
      if (received.length > MAX_REQUEST_BYTES) return void socket.destroy();
      if (!received.includes("\n")) return;
      asked = true;
      lastQuestion = Date.now();
      const question = received.slice(0, received.indexOf("\n"));
      // A newer watcher of this site (another environment, other settings) takes over.
      if (isStopRequest(question)) {
        socket.end(`${JSON.stringify(refusal("stopping"))}\n`, () => stop("a newer watcher takes over"));
        return;
      }
      // Answered after this turn's poll phase: every inotify event queued before the question
      // arrived (any change made before the plan started) has been handled, and stopped this.
      setImmediate(() => {
        if (siteMounts(physical) !== mounts) return stop("a file system was mounted or unmounted in or over the site");
        const now = statSync(siteDir!, { throwIfNoEntry: false });
        if (now?.ino !== root.ino || now.dev !== root.dev) return stop("the site's path leads elsewhere now (it or a directory above it moved)");
        socket.end(`${JSON.stringify(reply(question))}\n`);
      });
    });
  });
  server.on("error", () => stop("its socket failed"));
  // Sockets of watchers killed between listening and publishing (kill -9) go.
  for (const name of readdirSync(path.dirname(socketPath))) {
    const pid = /^watch-(\d+)\.sock$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !isWatcher(Number(pid))) rmSync(path.join(path.dirname(socketPath), name), { force: true });
  }
  const listening = ownSocket;
  rmSync(listening, { force: true });
  await new Promise<void>((resolve) => server!.listen(listening, resolve));
  try {
    // Published whole: a plan finds a socket that listens, or none.
    socketIno = lstatSync(listening).ino;
    renameSync(listening, socketPath);
    ownSocket = undefined;
  } catch {
    return stop("cannot publish its socket", true); // something that is no socket in its place
  }
  ready = true;
  log(`watching ${dirs.size} directories of ${siteDir}, ${linked.length} files with other links, ${filtered.size} directories outside`);

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
}

/**
 * Takes the site's watcher lock (`watch.lock`, holding the pid), so that one watcher runs per
 * site: plans that finish together start one each. Another watcher holding it is left to run
 * when it answers this environment with these settings, or is still starting; otherwise (another
 * environment, other settings, no answer) it is asked to stop, and the lock is taken once it
 * has (or after 2 s, from one that cannot answer: stopped with SIGSTOP).
 */
async function takeSiteLock(siteDir: string, lockPath: string, settings: string): Promise<boolean> {
  // Written whole, then linked into place (a link fails if the lock is there): another watcher
  // never reads a lock created but not yet written, which would look stale.
  const take = (): boolean => {
    const temp = `${lockPath}.${process.pid}.tmp`;
    writeFileSync(temp, `${process.pid}\n`);
    try {
      linkSync(temp, lockPath);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      return false;
    } finally {
      rmSync(temp, { force: true });
    }
  };
  if (take()) return true;
  const holder = Number(readFileSync(lockPath, "utf8").trim());
  if (!isWatcher(holder)) {
    rmSync(lockPath, { force: true }); // left by a watcher killed with -9
    return take();
  }
  if (!existsSync(watcherSocketPath(siteDir))) return false; // starting: it serves when ready
  const result = await askSiteWatcher(siteDir);
  if (result.state === "clean" && result.answer.settings === settings) return false;
  await exchangeWithWatcher(siteDir, { protocol: WATCHER_PROTOCOL, stop: true }, 1000); // a stopped (SIGSTOP) holder never answers
  for (let waited = 0; waited < 2000 && isWatcher(holder); waited += 50) await sleep(50);
  rmSync(lockPath, { force: true });
  return take();
}

/** Whether `pid` is a running site watcher (not a pid reused by another program). */
function isWatcher(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number.isInteger(pid) && pid > 0 && stat.includes(`(${COMM})`) && !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** The inotify watches the other site watchers of this machine hold (their fdinfo; those of other users cannot be read and do not count against this user's budget). */
function otherWatchersWatches(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || !isWatcher(pid)) continue;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
        const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
        for (let at = info.indexOf("inotify wd:"); at >= 0; at = info.indexOf("inotify wd:", at + 1)) total++;
      }
    } catch {
      // exited meanwhile, or another user's
    }
  }
  return total;
}

function isStopRequest(question: string): boolean {
  try {
    const request = JSON.parse(question) as { protocol?: unknown; stop?: unknown };
    return request.protocol === WATCHER_PROTOCOL && request.stop === true;
  } catch {
    return false;
  }
}

/** The lines of /proc/self/mountinfo whose mount point is `dir`, inside it, or above it. */
function siteMounts(dir: string): string {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
  return text
    .split("\n")
    .filter((line) => {
      const point = parseMounts(line)[0]?.point;
      return point !== undefined && (point === dir || point.startsWith(`${dir}/`) || dir.startsWith(point === "/" ? "/" : `${point}/`));
    })
    .join("\n");
}

/** Mount points and file system types of /proc/self/mountinfo (`\ooo` escapes decoded). */
function parseMounts(text: string): { point: string; type: string }[] {
  const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const mounts: { point: string; type: string }[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (fields.length < 5 || separator < 0) continue;
    mounts.push({ point: unescape(fields[4]!), type: fields[separator + 1] ?? "" });
  }
  return mounts;
}

void runSiteWatcher(process.argv[2]);
