// A tiny entry point (`@stepwise/core/prefetch`) the CLI loads before the rest of core, so
// git's listing of a site runs on another core while the command loads: it pulls in only the
// code that starts git (git-start.ts), the no-op plan memo's check (plan-memo.ts), what a plan
// asks a site watcher (site-watcher-client.ts) and Node's fs, path, os, module, url and child_process.
export { gitIndexFile, prefetchGitListing, prefetchedIdentity, siteWatcherState } from "./git-start.js";
export { startSiteWatcher, wantsSiteWatcher } from "./site-watcher-client.js";
export { environmentKey, hasPlanMemo, readPlanMemo, recordPlanInputs, settlePlanMemo, statWitnesses } from "../cache/plan-memo.js";
export { trace } from "../log/trace.js";
