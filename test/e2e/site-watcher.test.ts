// The site watcher (packages/core/src/cache/site-watcher.ts): a plan that keeps its memo on a
// large site leaves a process that watches what git's listing depends on, and answers the next
// no-op plans in place of git's stat pass until the first change, at which it exits. Forced here
// with STEPWISE_WATCH=1 on small sites. Each test makes one kind of change right before a plan
// (no pause: the plan must see a change made the moment before it started) and checks that the
// plan is the one made without a watcher or memo, and that the watcher is gone.
import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { backdate, commitAll, git, initRepo } from "../fixtures/git-repo.js";
import { makeFixtureSite, runCli } from "./cli-harness.js";

const WATCH = { STEPWISE_WATCH: "1" };
const socketOf = (dir: string) => path.join(dir, ".stepwise", "cache", "watch.sock");
const sites: string[] = [];
const pids = new Set<number>();

afterEach(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // stopped by itself
    }
  }
  pids.clear();
  for (const dir of sites.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A deployed git site, everything older than the racy window (so a plan keeps its memo).
 * `nested`: the site is `site/` in the work tree, not its top.
 */
async function deployedSite(nested = false): Promise<string> {
  let dir = makeFixtureSite();
  sites.push(dir);
  mkdirSync(path.join(dir, "docs", "guide"), { recursive: true });
  writeFileSync(path.join(dir, "docs", "guide", "start.md"), "# start\n");
  const top = nested ? mkdtempSync(path.join(os.tmpdir(), "stepwise-e2e-top-")) : dir;
  if (nested) {
    sites.push(top);
    renameSync(dir, path.join(top, "site"));
    dir = path.join(top, "site");
  }
  initRepo(top);
  writeFileSync(path.join(top, ".gitignore"), ".stepwise/\nnode_modules/\n");
  backdate(top);
  commitAll(top);
  const deployed = await runCli(["deploy"], { cwd: dir });
  expect(deployed.code, deployed.stderr).toBe(0);
  const past = new Date(Date.now() - 3600_000);
  for (const file of [path.join(dir, ".stepwise", "state.json"), path.join(dir, ".stepwise")]) utimesSync(file, past, past);
  return dir;
}

async function plan(dir: string, env: Record<string, string> = WATCH) {
  const result = await runCli(["plan"], { cwd: dir, env: { STEPWISE_TRACE: "1", ...env } });
  expect(result.code, result.stderr).toBe(0);
  return {
    stdout: result.stdout,
    replayed: result.stderr.includes("plan memo replayed"),
    watcher: /site watcher: (.*)/.exec(result.stderr)?.[1],
    started: result.stderr.includes("site watcher started"),
  };
}

/** The watcher's reply to a question (from another environment: it says its pid), or undefined when none answers within 500 ms. */
function ask(dir: string, environment = "x"): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(socketOf(dir));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, 500);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => resolve(undefined));
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch {
        resolve(undefined);
      }
    });
    socket.end(`${JSON.stringify({ protocol: 1, environment })}\n`);
  });
}

/** Waits until the site's watcher listens (it lists the site first), and notes its pid for cleanup. */
async function watcherReady(dir: string): Promise<number> {
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (existsSync(socketOf(dir))) {
      const reply = await ask(dir);
      if (reply && typeof reply.pid === "number") {
        pids.add(reply.pid);
        return reply.pid;
      }
    }
    await sleep(50);
  }
  throw new Error("no site watcher started");
}

/** Waits until the watcher `pid` has exited, and (unless another took its place) its socket is gone. */
async function watcherGone(dir: string, pid: number, replaced = false): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 50) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    // A zombie (exited, not yet reaped by init) still takes signal 0: the socket tells.
    if ((replaced || !existsSync(socketOf(dir))) && (!alive || readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z"))) return;
    await sleep(50);
  }
  throw new Error(`site watcher ${pid} still runs`);
}

/** The live site watchers that watch `dir` (found by the inode of their first watch in /proc's fdinfo). */
function watchersOf(dir: string): number[] {
  const ino = statSync(dir).ino.toString(16);
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(stepwise site w)") || /\) Z /.test(stat)) continue;
      const infos = readdirSync(`/proc/${pid}/fdinfo`).map((fd) => readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      if (infos.some((info) => info.includes(` ino:${ino} `))) found.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** A plan that keeps its memo and starts a watcher, and a plan that the watcher answers. */
async function watched(dir: string): Promise<{ stdout: string; pid: number }> {
  await sleep(2100); // what the last change touched is older than the racy window
  const first = await plan(dir);
  const pid = await watcherReady(dir);
  const second = await plan(dir);
  expect(second.watcher).toBe("clean");
  expect(second.replayed).toBe(true);
  expect(second.stdout).toBe(first.stdout);
  return { stdout: first.stdout, pid };
}

/** The plan made with no watcher and no memo: what a plan must print. */
async function fresh(dir: string): Promise<string> {
  rmSync(path.join(dir, ".stepwise", "cache", "plan-memo.json"), { force: true });
  return (await plan(dir, { STEPWISE_WATCH: "0" })).stdout;
}

describe.skipIf(process.platform !== "linux")("the site watcher", () => {
  it("answers no-op plans in place of git, and a change made right before a plan is seen", async () => {
    const dir = await deployedSite();
    const { stdout, pid } = await watched(dir);
    expect(stdout).toContain("0 to run");
    // More plans: still answered.
    expect((await plan(dir)).watcher).toBe("clean");

    appendFileSync(path.join(dir, "src", "util.js"), "export const y = 2;\n");
    const edited = await plan(dir);
    expect(edited.replayed).toBe(false);
    expect(edited.watcher).not.toBe("clean");
    expect(edited.stdout).toMatch(/file src\/util\.js modified/);
    await watcherGone(dir, pid);
    expect(edited.stdout).toBe(await fresh(dir));
  });

  const changes: [string, (dir: string) => void][] = [
    ["a file added in a directory with tracked files", (dir) => writeFileSync(path.join(dir, "docs", "new.md"), "# new\n")],
    ["an empty directory added", (dir) => mkdirSync(path.join(dir, "docs", "guide", "empty"))],
    ["a tracked file removed", (dir) => rmSync(path.join(dir, "docs", "guide", "start.md"))],
    ["a directory of tracked files renamed", (dir) => renameSync(path.join(dir, "docs", "guide"), path.join(dir, "docs", "manual"))],
    ["a tracked file rewritten with the same content", (dir) => writeFileSync(path.join(dir, "src", "main.js"), readFileSync(path.join(dir, "src", "main.js")))],
    ["a tracked file made executable", (dir) => chmodSync(path.join(dir, "src", "main.js"), 0o755)],
    ["a tracked file's times set back", (dir) => utimesSync(path.join(dir, "src", "main.js"), new Date(0), new Date(0))],
    ["a file staged (the index replaced)", (dir) => (writeFileSync(path.join(dir, "docs", "staged.md"), "# s\n"), git(dir, "add", "docs/staged.md"))],
  ];
  it.each(changes)("stops at %s, and the plan after it is made afresh", async (_what, change) => {
    const dir = await deployedSite();
    const { pid } = await watched(dir);
    change(dir);
    const after = await plan(dir);
    expect(after.watcher).not.toBe("clean");
    await watcherGone(dir, pid);
    expect(after.stdout).toBe(await fresh(dir));
  });

  it("compares git's settings rather than watching their files: an include changed (the site in a subdirectory), or one followed by the branch", async () => {
    const dir = await deployedSite(true);
    const top = path.dirname(dir);
    writeFileSync(path.join(top, ".git", "extra.inc"), "[user]\n\tname = a\n");
    git(top, "config", "include.path", "extra.inc"); // relative to .git/config: .git/extra.inc
    writeFileSync(path.join(top, ".git", "feature.inc"), "[user]\n\tname = c\n");
    git(top, "config", "includeIf.onbranch:feature.path", "feature.inc");
    const { stdout, pid } = await watched(dir);

    writeFileSync(path.join(top, ".git", "extra.inc"), "[user]\n\tname = b\n");
    const included = await runCli(["plan"], { cwd: dir, env: { STEPWISE_TRACE: "1", ...WATCH } });
    expect(included.stderr).toContain("site watcher: made for another index or other git settings");
    expect(included.stdout).toBe(stdout);
    // That plan (a replay) started a watcher for these settings, which took over.
    await watcherGone(dir, pid, true);
    const next = await watcherReady(dir);
    expect((await plan(dir)).watcher).toBe("clean");

    git(top, "symbolic-ref", "HEAD", "refs/heads/feature"); // HEAD is not watched; the settings differ
    const branched = await runCli(["plan"], { cwd: dir, env: { STEPWISE_TRACE: "1", ...WATCH } });
    expect(branched.stderr).toContain("site watcher: made for another index or other git settings");
    expect(branched.stdout).toBe(await fresh(dir));
    await watcherGone(dir, next, true);
  });

  it("stops when a directory above the site is renamed (no event in the site), even with its socket put back in place", async () => {
    const dir = await deployedSite(true);
    const top = path.dirname(dir);
    const { pid } = await watched(dir);
    const moved = `${top}-moved`;
    sites.push(moved);
    renameSync(top, moved);
    // A copy of the site where it was, with the live socket moved into it (as a review did by hand).
    expect(spawnSync("cp", ["-a", moved, top]).status).toBe(0);
    rmSync(socketOf(dir));
    renameSync(socketOf(path.join(moved, "site")), socketOf(dir));
    const after = await plan(dir);
    expect(after.watcher).not.toBe("clean");
    await watcherGone(dir, pid);
    expect(after.stdout).toBe(await fresh(dir));
  });

  it("does not answer a plan from another environment, and a killed watcher costs only time", async () => {
    const dir = await deployedSite();
    const { stdout, pid } = await watched(dir);
    const other = await plan(dir, { ...WATCH, SOME_SETTING: "1" });
    expect(other.watcher).toBe("watching for another environment");
    expect(other.stdout).toBe(stdout);
    // That plan kept its own memo and started a watcher for its environment, which replaced this one.
    expect(other.started).toBe(true);
    await watcherGone(dir, pid, true);
    const next = await watcherReady(dir);
    expect(next).not.toBe(pid);

    process.kill(next, "SIGKILL"); // its socket stays behind, and nothing listens on it
    await sleep(100);
    const orphaned = await plan(dir, { ...WATCH, SOME_SETTING: "1" });
    expect(orphaned.watcher).toBe("gone");
    expect(orphaned.replayed).toBe(true);
    expect(orphaned.stdout).toBe(stdout);
  });

  it("stops when idle or when its socket is removed, a replay starts it again, and it starts only where it pays or is asked for", async () => {
    const dir = await deployedSite();
    await sleep(2100);
    const idleEnv = { ...WATCH, STEPWISE_WATCH_IDLE_MS: "1000" };
    await plan(dir, idleEnv);
    const idle = await watcherReady(dir);
    await watcherGone(dir, idle);

    // The memo is replayed (git's listing decides), and the plan leaves a watcher again.
    const replayed = await plan(dir, idleEnv);
    expect(replayed.replayed).toBe(true);
    expect(replayed.watcher).toBe("none");
    expect(replayed.started).toBe(true);
    await watcherGone(dir, await watcherReady(dir));

    await plan(dir);
    const removed = await watcherReady(dir);
    rmSync(socketOf(dir));
    await watcherGone(dir, removed);

    // Not with STEPWISE_WATCH=0, and not by default for a small index (below 1 MiB).
    for (const env of [{ STEPWISE_WATCH: "0" }, {}]) {
      rmSync(path.join(dir, ".stepwise", "cache", "plan-memo.json"));
      const kept = await plan(dir, env);
      expect(kept.started).toBe(false);
    }
  });

  it("runs once per site when plans that keep their memo finish together", async () => {
    const dir = await deployedSite();
    await sleep(2100);
    await Promise.all([1, 2, 3, 4].map(() => plan(dir)));
    const pid = await watcherReady(dir);
    // The others left at once (the lock), before watching anything.
    expect(watchersOf(dir)).toEqual([pid]);
    expect(readFileSync(path.join(dir, ".stepwise", "cache", "watch.lock"), "utf8")).toBe(`${pid}\n`);
  });

  it("stops when a file system is mounted or unmounted in the site (a bind mount over a watched directory raises no event), not elsewhere", async (ctx) => {
    const dir = await deployedSite();
    const { pid } = await watched(dir);
    const other = mkdtempSync(path.join(os.tmpdir(), "stepwise-e2e-mount-"));
    sites.push(other);
    writeFileSync(path.join(other, "main.js"), "console.log('other');\n");
    writeFileSync(path.join(other, "util.js"), "export const x = 1;\n");
    // A mount elsewhere (as a container's root file system) does not count.
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), "stepwise-e2e-elsewhere-"));
    sites.push(elsewhere);
    const tmpfs = spawnSync("mount", ["-t", "tmpfs", "none", elsewhere], { encoding: "utf8" });
    if (tmpfs.status !== 0) ctx.skip(`cannot mount here: ${tmpfs.stderr.trim()}`);
    spawnSync("umount", [elsewhere]);
    expect((await plan(dir)).watcher).toBe("clean");
    const mounted = spawnSync("mount", ["--bind", other, path.join(dir, "src")], { encoding: "utf8" });
    if (mounted.status !== 0) ctx.skip(`cannot bind-mount here: ${mounted.stderr.trim()}`);
    try {
      const after = await plan(dir);
      expect(after.watcher).not.toBe("clean");
      await watcherGone(dir, pid);
      expect(after.stdout).toBe(await fresh(dir));
    } finally {
      spawnSync("umount", [path.join(dir, "src")]);
    }
  });

  it("watches a tracked file that has another link itself: a write through a path outside the site is seen", async () => {
    const dir = await deployedSite();
    const outside = mkdtempSync(path.join(os.tmpdir(), "stepwise-e2e-link-"));
    sites.push(outside);
    linkSync(path.join(dir, "src", "main.js"), path.join(outside, "main.js")); // as `cp -al` makes
    git(dir, "update-index", "--refresh"); // the link changed the file's ctime
    const { pid } = await watched(dir);
    writeFileSync(path.join(outside, "main.js"), "console.log('changed through the other link');\n");
    const after = await plan(dir);
    expect(after.watcher).not.toBe("clean");
    await watcherGone(dir, pid);
    expect(after.stdout).toBe(await fresh(dir));
    expect(after.stdout).toMatch(/file src\/main\.js modified/);
  });

  it("takes over from a watcher that cannot answer (stopped with SIGSTOP): one runs again, the plans never wait long", async () => {
    const dir = await deployedSite();
    const { stdout, pid } = await watched(dir);
    process.kill(pid, "SIGSTOP");
    try {
      const started = Date.now();
      const stuck = await plan(dir);
      expect(stuck.watcher).toBe("no answer in time");
      expect(stuck.stdout).toBe(stdout);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(stuck.started).toBe(true);
      // The new watcher asks the stopped one to stop, waits 2 s, and takes the lock and the socket.
      for (let waited = 0; waited < 15_000; waited += 100) {
        const reply = await ask(dir);
        if (reply && reply.pid !== pid) break;
        await sleep(100);
      }
      const next = await watcherReady(dir);
      expect(next).not.toBe(pid);
      expect((await plan(dir)).watcher).toBe("clean");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await watcherGone(dir, pid, true); // it sees its socket replaced
  });

  it("does not start for a site whose .stepwise/ holds tracked files", async () => {
    const dir = await deployedSite();
    writeFileSync(path.join(dir, ".gitignore"), ".stepwise/cache/\nnode_modules/\n");
    mkdirSync(path.join(dir, ".stepwise", "notes"), { recursive: true });
    writeFileSync(path.join(dir, ".stepwise", "notes", "readme.md"), "notes\n");
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "notes");
    backdate(dir);
    await sleep(2100);
    const kept = await plan(dir);
    expect(kept.started).toBe(true);
    // It starts, sees the tracked files under .stepwise/ and stops without listening, leaving
    // why: no plan starts another for an hour.
    const refusal = path.join(dir, ".stepwise", "cache", "watch-refused");
    for (let waited = 0; waited < 10_000 && !existsSync(refusal); waited += 50) await sleep(50);
    expect(readFileSync(refusal, "utf8")).toContain("files under .stepwise/ are tracked");
    expect(existsSync(socketOf(dir))).toBe(false);
    rmSync(path.join(dir, ".stepwise", "cache", "plan-memo.json"));
    const again = await plan(dir);
    expect(again.started).toBe(false);
  });
});
