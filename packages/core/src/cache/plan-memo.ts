// The no-op plan memo, `.stepwise/cache/plan-memo.json`. Loaded by the CLI's entry before
// anything else (it is part of `@stepwise/core/prefetch`), so it imports only Node's fs, module,
// path and url and modules that import no more.
import { existsSync, lstatSync, rmSync, statSync } from "node:fs";
import nodeModule from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cachePath, defineJsonCache, isRecord, isStringPair } from "./cache-file.js";
import { checksum } from "./checksum.js";
import { statLine } from "./stat-line.js";

/**
 * A plan that found nothing to do, with everything it was a function of. Replayed by the next
 * `stepwise plan` whose invocation is the same, whose witnesses all have the same stat, and
 * whose git listing of the site has the same identity; any difference, a damaged file or one
 * of another version plans afresh. 0600: the plan's text names config values.
 */
interface PlanMemoRecord {
  /** {@link invocationKey}: the arguments, directory, environment variables read, terminal and Node. */
  invocation: string;
  /** The environment variables the plan read (names only), or `*` when it enumerated them all. */
  env: string[] | "*";
  /**
   * `[witness, statLine]`: `s PATH` the stat of a file the plan read (followed through links,
   * `- - - -` for one that was not there), `l PATH` the stat of the entry itself (a link, a
   * directory whose entries a lookup went through).
   */
  witnesses: [string, string][];
  /** The identity of the git listing the file inputs came from; null for a site without file inputs. */
  listing: string | null;
  /** What the plan printed on stdout. */
  stdout: string;
}

export const planMemoCache = defineJsonCache<PlanMemoRecord>({
  name: "plan-memo.json",
  version: 1,
  mode: 0o600,
  isValid: (value): value is PlanMemoRecord =>
    isRecord(value) &&
    typeof value.invocation === "string" &&
    (value.env === "*" || (Array.isArray(value.env) && value.env.every((name) => typeof name === "string"))) &&
    Array.isArray(value.witnesses) &&
    value.witnesses.every(isStringPair) &&
    (value.listing === null || typeof value.listing === "string") &&
    typeof value.stdout === "string",
});

/** Changes within this long before a plan started may share a timestamp with a later one (as `RACY_WINDOW_MS`). */
const RACY_WINDOW_MS = 2000;

/** What one `plan` records while it runs; shared by the CLI's copy of this module and core's. */
interface Recorder {
  readonly startedAt: number;
  readonly witnesses: Map<string, string>;
  /** Why this plan cannot be replayed (the first reason given). */
  vetoed: string | undefined;
  /** The file inputs' git listing identity: null without file inputs, undefined until known. */
  listing: string | null | undefined;
  /** Environment variables read through `process.env`; `all` once it was enumerated (a spread, a child's env). */
  readonly envNames: Set<string>;
  envAll: boolean;
}

const RECORDER_KEY = Symbol.for("stepwise.plan-memo.v1");
const globals = globalThis as Record<symbol, Recorder | undefined>;

const witnessKey = (kind: "s" | "l", file: string) => `${kind} ${file}`;

function currentStat(key: string): string {
  const file = key.slice(2);
  try {
    return statLine(key.startsWith("l") ? lstatSync(file, { throwIfNoEntry: false }) : statSync(file, { throwIfNoEntry: false }));
  } catch {
    return "?"; // unreadable (a permission, a loop): never equal to a recorded line
  }
}

function witness(kind: "s" | "l", file: string): void {
  const recorder = globals[RECORDER_KEY];
  if (!recorder) return;
  const key = witnessKey(kind, path.resolve(file));
  if (!recorder.witnesses.has(key)) recorder.witnesses.set(key, currentStat(key));
}

/** The plan read (or looked for) `file`: its stat now, before the read, is a witness. No-op unless a plan records. */
export function witnessFile(file: string): void {
  witness("s", file);
}

/** The plan went through the entry `file` itself (a link, a directory listing): its own stat is a witness. */
export function witnessEntry(file: string): void {
  witness("l", file);
}

/** This plan cannot be replayed: `reason` says what it asked beyond its witnesses (a target, a remote backend). */
export function vetoPlanMemo(reason: string): void {
  const recorder = globals[RECORDER_KEY];
  if (recorder) recorder.vetoed ??= reason;
}

/**
 * The plan's file inputs: the identity of the git listing they came from and the files read
 * from disk (site-relative, with the stat the collection saw); undefined when they cannot be
 * vouched for, null for a site without file inputs.
 */
export function notePlanFileInputs(siteDir: string, basis: { listing: string; read: readonly (readonly [string, string])[] } | null | undefined): void {
  const recorder = globals[RECORDER_KEY];
  if (!recorder) return;
  if (basis === undefined) return vetoPlanMemo("its file inputs are not vouched for by git (outside git, untracked directories, converting attributes or a file changed too recently)");
  recorder.listing = basis === null ? null : basis.listing;
  // The collection's stats are lstat lines (a link is read as a link): witnessed as entries.
  for (const [file, stat] of basis?.read ?? []) recorder.witnesses.set(witnessKey("l", path.resolve(siteDir, file)), stat);
}

/**
 * Starts recording what this `plan` reads: the files core reads ({@link witnessFile}), every
 * module loaded from here on (a resolve hook), and `loaded`, the modules already loaded (the
 * CLI's entry). Without `module.registerHooks` (Node < 22.15) nothing is recorded.
 */
export function recordPlanInputs(loaded: readonly string[]): void {
  if (globals[RECORDER_KEY] || typeof nodeModule.registerHooks !== "function") return;
  const recorder: Recorder = { startedAt: Date.now(), witnesses: new Map(), vetoed: undefined, listing: undefined, envNames: new Set(), envAll: false };
  globals[RECORDER_KEY] = recorder;
  // Which variables the plan reads, wherever it reads them (core, a plugin, a library): a
  // memo depends on those, not on the rest of the environment (a shell's `_`, a tool's own).
  const noteName = (name: string | symbol) => typeof name === "string" && recorder.envNames.add(name);
  process.env = new Proxy(process.env, {
    get: (target, name) => (noteName(name), Reflect.get(target, name)),
    has: (target, name) => (noteName(name), Reflect.has(target, name)),
    getOwnPropertyDescriptor: (target, name) => (noteName(name), Reflect.getOwnPropertyDescriptor(target, name)),
    ownKeys: (target) => ((recorder.envAll = true), Reflect.ownKeys(target)),
  });
  for (const file of loaded) witnessModule(file, undefined, undefined);
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (resolved.url.startsWith("file:")) {
        try {
          witnessModule(fileURLToPath(resolved.url), specifier, context.parentURL);
        } catch {
          vetoPlanMemo(`a module could not be witnessed (${resolved.url})`);
        }
      }
      return resolved;
    },
  });
}

/**
 * A module file: its stat, its directory's (an entry added next to it could take its place in
 * a lookup), and for a bare specifier every `node_modules/NAME` Node's lookup passed or took,
 * up to the package found (the entry itself, so a relinked package is seen, and its package.json).
 */
function witnessModule(file: string, specifier: string | undefined, parentURL: string | undefined): void {
  witness("s", file);
  witness("l", path.dirname(file));
  if (!specifier || !parentURL?.startsWith("file:") || /^(\.|\/|#|[a-z][a-z0-9+.-]*:)/i.test(specifier)) return;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
  for (let dir = path.dirname(fileURLToPath(parentURL)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    witness("l", candidate);
    if (name.startsWith("@")) witness("l", path.dirname(candidate));
    if (lstatSync(candidate, { throwIfNoEntry: false })) {
      witness("s", path.join(candidate, "package.json"));
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** Variables that shape any Node program's output or code, read or not through `process.env`. */
const ALWAYS_ENV = ["NODE_OPTIONS", "NODE_PATH", "NO_COLOR", "FORCE_COLOR", "NODE_DISABLE_COLORS", "TERM", "CI", "COLUMNS"];

/**
 * The invocation a memo answers: the arguments, the working directory, the environment
 * variables `env` names (all of them for `*`) as a checksum (no value is kept), whether stdout
 * and stderr are terminals and how wide, and which Node with which options. A checksum detects
 * change, not tampering: the file is the user's own, 0600.
 */
export function invocationKey(argv: readonly string[], env: readonly string[] | "*"): string {
  const names = [...new Set([...(env === "*" ? Object.keys(process.env) : env), ...ALWAYS_ENV])].sort();
  const values = names.map((name) => `${name}${Object.hasOwn(process.env, name) ? `=${process.env[name]}` : ""}`).join("\0");
  const terminal = [process.stdout.isTTY, process.stderr.isTTY, process.stdout.columns].map(String).join(" ");
  const text = JSON.stringify([argv, process.cwd(), process.execPath, process.version, process.execArgv, process.platform, process.arch, terminal]);
  return `${checksum(text).toString(36)} ${checksum(values).toString(36)} ${checksum(`\0${values}`).toString(36)}`;
}

/** Whether `siteDir` has a memo at all (one stat: git is started before the memo is read). */
export function hasPlanMemo(siteDir: string): boolean {
  return existsSync(cachePath(siteDir, planMemoCache.name));
}

/**
 * The memo of `siteDir` when it answers this invocation and every witness has the stat it had;
 * the caller still compares the git listing's identity with `listing`. Never throws.
 */
export function readPlanMemo(siteDir: string, argv: readonly string[]): { listing: string | null; stdout: string } | undefined {
  const memo = planMemoCache.read(siteDir);
  if (!memo || memo.invocation !== invocationKey(argv, memo.env)) return undefined;
  for (const [key, stat] of memo.witnesses) if (currentStat(key) !== stat) return undefined;
  return { listing: memo.listing, stdout: memo.stdout };
}

function declineReason(): string | undefined {
  const recorder = globals[RECORDER_KEY];
  if (!recorder) return "nothing was recorded (Node without module.registerHooks)";
  if (recorder.vetoed !== undefined) return recorder.vetoed;
  if (recorder.listing === undefined) return "its file inputs were not noted";
  const racyAfter = recorder.startedAt - RACY_WINDOW_MS;
  for (const [key, line] of recorder.witnesses) {
    const mtime = Number(line.split(" ")[2]);
    if (Number.isFinite(mtime) && mtime >= racyAfter) return `${key.slice(2)} changed too recently to tell a later change`;
  }
  return undefined;
}

/**
 * Removes the memo of `siteDir`, if any: after a plan that found something to do or could not
 * keep one. Not for correctness (a memo names its own witnesses, and whatever changed since
 * fails them) but for time: while a memo is there, the next plan reads it and lets git take
 * both cores, which slows a plan that then loads the CLI after all.
 */
export function forgetPlanMemo(siteDir: string): void {
  if (!hasPlanMemo(siteDir)) return;
  try {
    rmSync(cachePath(siteDir, planMemoCache.name), { force: true });
  } catch {
    // something else in its place: ignored, as every damaged cache
  }
}

/**
 * Keeps what this plan printed for the next one to replay, if it recorded everything it was a
 * function of: nothing vetoed it, its file inputs are known, and no witness changed too
 * recently to tell (a change in the same clock tick could keep the same stat). Returns why
 * not, or undefined when it was kept; a memo kept before is then removed (see {@link forgetPlanMemo}).
 */
export function savePlanMemo(siteDir: string, argv: readonly string[], stdout: string): string | undefined {
  const declined = declineReason();
  if (declined !== undefined) {
    forgetPlanMemo(siteDir);
    return declined;
  }
  const recorder = globals[RECORDER_KEY]!;
  const env = recorder.envAll ? "*" : [...recorder.envNames].sort();
  const record: PlanMemoRecord = { invocation: invocationKey(argv, env), env, witnesses: [...recorder.witnesses], listing: recorder.listing!, stdout }; // declineReason: not undefined
  const held = planMemoCache.read(siteDir);
  if (held && JSON.stringify(held) === JSON.stringify(record)) return undefined;
  return planMemoCache.write(siteDir, record) ? undefined : "the cache could not be written";
}
