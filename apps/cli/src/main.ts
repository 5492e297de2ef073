// The default export, not named imports: a name this Node lacks (flushCompileCache came in 22.10)
// would fail to link, where a missing property is only undefined.
import nodeModule from "node:module";
// Bundled into this file by the build (see scripts/bundle-dist.mjs --inline), not resolved and
// read as another package's module: git starts before anything but this file is loaded.
import { fileURLToPath } from "node:url";
import {
  gitIndexFile,
  hasPlanMemo,
  prefetchGitListing,
  prefetchedIdentity,
  readPlanMemo,
  recordPlanInputs,
  settlePlanMemo,
  siteWatcherState,
  startSiteWatcher,
  statWitnesses,
  trace,
  wantsSiteWatcher,
} from "@stepwise/core/prefetch";
import { scanArgs } from "./args.js";

// `stepwise --version` is answered before anything else is loaded: no commander, no core, no plugin
// (the code that starts git is in this file, but only defines functions until it is called).
const argv = process.argv.slice(2);
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`error: stepwise needs Node.js 22 or newer; this is ${process.version}.\n  fix: install Node 22+ (or run ./scripts/bootstrap.sh, which fetches Node 24 from the npm registry)\n`);
  process.exitCode = 2;
} else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const pkg = nodeModule.createRequire(import.meta.url)("../package.json") as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { command, site, help } = scanArgs(argv);
  const siteDir = site ?? process.cwd();
  const planning = command === "plan" && !help;
  // What this process already loaded, as it was when loaded: witnesses of a plan it may keep.
  const entry = planning ? statWitnesses([fileURLToPath(import.meta.url), ...(process.argv[1] ? [process.argv[1]] : [])]) : [];
  // Start git's listing of the site's files on the other core first, while the CLI loads (or,
  // with a plan memo to check, while it is checked: git may then use both cores). A plan asks
  // the site's watcher first, if one runs.
  if (command === "plan" || command === "deploy") prefetchGitListing(siteDir, { alone: planning && hasPlanMemo(siteDir), watched: planning });
  trace("cli started");
  // A plan the last one already made, with nothing it read changed since, is printed again
  // without loading the CLI (see @stepwise/core's cache/plan-memo.ts); git's listing decides.
  // Like any cache it is a hint: whatever goes wrong checking it, the plan is made afresh. (When
  // only git's listing differs, git has finished before the CLI loads: an edit costs that wait.)
  const replay = planning ? await replayablePlan(siteDir).catch(() => undefined) : undefined;
  // A reader that went away (`stepwise plan | head`) is not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  if (replay !== undefined) {
    trace("plan memo replayed");
    process.stdout.write(replay);
    // A watcher that stopped (idle, or a change since undone) or that no longer serves (other git
    // settings) is started again; one that runs for another environment is left to it.
    const watcherState = siteWatcherState(siteDir);
    if (watcherState === "none" || watcherState === "stale") startWatcher(siteDir);
    exitWhenFlushed();
  } else {
    if (planning) recordPlanInputs(entry);
    const { run } = await import("./index.js"); // the package entry: the bundle of program.ts
    trace("cli loaded");
    process.exitCode = await run(argv, help ? undefined : command);
    if (planning) {
      // Once the command is over and what it left for the next turn (a warning) has happened.
      await new Promise((resolve) => setImmediate(resolve));
      const notKept = settlePlanMemo(Number(process.exitCode ?? 0));
      trace(notKept === undefined ? "plan memo kept" : `plan memo not kept: ${notKept}`);
      // On a large site, a watcher saves the next no-op plans git's stat pass; one that watches
      // for another environment is replaced (the plan that kept this memo is the latest).
      if (notKept === undefined && siteWatcherState(siteDir) !== "clean") startWatcher(siteDir);
    }
    trace("command done");
    exitWhenFlushed();
  }
}

/**
 * Leaves a site watcher for a large site (see @stepwise/core's cache/site-watcher.ts): the next
 * no-op plans then need not ask git for its stat pass.
 */
function startWatcher(siteDir: string): void {
  if (wantsSiteWatcher(siteDir, gitIndexFile(siteDir))) startSiteWatcher(siteDir, fileURLToPath(import.meta.resolve("@stepwise/core/site-watcher")));
}

/** The text of the site's plan memo when it answers this plan (see cache/plan-memo.ts), else undefined. */
async function replayablePlan(siteDir: string): Promise<string | undefined> {
  const memo = readPlanMemo(siteDir, process.argv.slice(1));
  if (!memo) return undefined;
  return memo.listing === null || memo.listing === (await prefetchedIdentity(siteDir)) ? memo.stdout : undefined;
}

/**
 * Ends the process once stdout and stderr are flushed, rather than letting Node dispose of
 * every heap page first (~4 ms of a 90 ms no-op plan). Everything a command does is awaited
 * by then; only V8's code cache is still to be written, so it is flushed first.
 */
function exitWhenFlushed(): void {
  const pending = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0);
  if (pending.length > 0) {
    let left = pending.length;
    for (const stream of pending) stream.once("drain", () => --left === 0 && exitWhenFlushed());
    return;
  }
  nodeModule.flushCompileCache?.();
  process.exit();
}
