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
  /** Environment variables read through `process.env`, with the value each had when first read (undefined: unset). */
  readonly envRead: Map<string, string | undefined>;
  /** Whether the environment was enumerated (a spread, a child's env): then every variable counts. */
  envAll: boolean;
  /** The environment object itself, behind the proxy. */
  readonly env: NodeJS.ProcessEnv;
  /** What the plan wrote to stdout (the plan's text is compared with it) and whether it wrote to stderr beyond trace lines. */
  stdoutBytes: number;
}

const RECORDER_KEY = Symbol.for("stepwise.plan-memo.v1");
const globals = globalThis as Record<symbol, Recorder | undefined>;

const witnessKey = (kind: "s" | "l", file: string) => `${kind} ${file}`;

/** A witness that could not be read (a permission, a loop, ENOTDIR): a memo holding one is not kept. */
const UNREADABLE = "?";

function currentStat(key: string): string {
  const file = key.slice(2);
  try {
    return statLine(key.startsWith("l") ? lstatSync(file, { throwIfNoEntry: false }) : statSync(file, { throwIfNoEntry: false }));
  } catch {
    return UNREADABLE;
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

/** Options that load code before the resolve hook is registered: what they load is not witnessed. */
const PRELOAD_OPTION = /(^|\s)(--import|--require|-r|--loader|--experimental-loader)(=|\s|$)/;

/**
 * Starts recording what this `plan` reads: the files core reads ({@link witnessFile}), every
 * module loaded from here on (a resolve hook), `loaded`, the modules already loaded (the CLI's
 * entry), the environment variables read (a proxy in place of `process.env`), and whether
 * anything but the plan's text is printed. Without `module.registerHooks` (Node < 22.15)
 * nothing is recorded.
 */
export function recordPlanInputs(loaded: readonly string[]): void {
  if (globals[RECORDER_KEY] || typeof nodeModule.registerHooks !== "function") return;
  const env = process.env;
  const recorder: Recorder = { startedAt: Date.now(), witnesses: new Map(), vetoed: undefined, listing: undefined, envRead: new Map(), envAll: false, env, stdoutBytes: 0 };
  globals[RECORDER_KEY] = recorder;
  if (PRELOAD_OPTION.test([...process.execArgv, env.NODE_OPTIONS ?? ""].join(" "))) vetoPlanMemo("modules were preloaded (--import, --require, --loader), before a plan records what it loads");
  // Which variables the plan reads, wherever it reads them (core, a plugin, a library), with
  // the value each had then: a memo depends on those, not on the rest of the environment (a
  // shell's `_`, a tool's own). A plan that changes the environment cannot be replayed.
  const noteName = (name: string | symbol) => {
    if (typeof name === "string" && !recorder.envRead.has(name)) recorder.envRead.set(name, Object.hasOwn(env, name) ? env[name] : undefined);
  };
  process.env = new Proxy(env, {
    get: (target, name) => (noteName(name), Reflect.get(target, name)),
    has: (target, name) => (noteName(name), Reflect.has(target, name)),
    getOwnPropertyDescriptor: (target, name) => (noteName(name), Reflect.getOwnPropertyDescriptor(target, name)),
    ownKeys: (target) => ((recorder.envAll = true), Reflect.ownKeys(target)),
    set: (target, name, value) => (noteName(name), vetoPlanMemo(`it set the environment variable ${String(name)}`), Reflect.set(target, name, value)),
    deleteProperty: (target, name) => (noteName(name), vetoPlanMemo(`it removed the environment variable ${String(name)}`), Reflect.deleteProperty(target, name)),
  });
  // A replay prints the plan's text and nothing else: a plan that printed more (a plugin's
  // console.log, a warning) cannot be replayed. Trace lines are not part of a plan's output.
  const stdoutWrite = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    recorder.stdoutBytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
    return (stdoutWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  const stderrWrite = process.stderr.write;
  process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    if (!(typeof chunk === "string" && chunk.startsWith("trace ") && env.STEPWISE_TRACE === "1")) vetoPlanMemo("it printed on stderr");
    return (stderrWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stderr.write;
  process.on("warning", () => vetoPlanMemo("Node printed a warning"));
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
 * A module file: its stat and its directory's (an entry added next to it could take its place in
 * a lookup). For a path specifier, where CommonJS would probe: the path itself, its package.json
 * (`main`) and its directory (`x.js` added beside `x/index.js`). For a bare specifier, every
 * `node_modules/NAME` Node's lookup passed or took, up to the package found: the entry itself
 * (a package linked anew has a new link), the directory it leads to, followed through every
 * link (a link further down a chain pointed elsewhere, even to hard-linked copies), its
 * package.json (`exports`, `main`), and the same probing places for a subpath.
 */
function witnessModule(file: string, specifier: string | undefined, parentURL: string | undefined): void {
  witness("s", file);
  witness("l", path.dirname(file));
  if (!specifier || !parentURL?.startsWith("file:") || specifier.startsWith("#") || /^[a-z][a-z0-9+.-]*:/i.test(specifier)) return;
  const parentDir = path.dirname(fileURLToPath(parentURL));
  if (specifier.startsWith(".") || path.isAbsolute(specifier)) return witnessProbes(path.resolve(parentDir, specifier));
  const parts = specifier.split("/");
  const nameParts = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameParts).join("/");
  for (let dir = parentDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    witness("l", candidate);
    if (nameParts === 2) witness("l", path.dirname(candidate));
    if (lstatSync(candidate, { throwIfNoEntry: false })) {
      witness("s", candidate);
      witness("s", path.join(candidate, "package.json"));
      if (parts.length > nameParts) witnessProbes(path.join(candidate, ...parts.slice(nameParts)));
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** The places CommonJS looks for `target` (a path without an extension, a directory with a package.json or index). */
function witnessProbes(target: string): void {
  witness("s", target);
  witness("s", path.join(target, "package.json"));
  witness("s", path.dirname(target));
}

/**
 * Variables that shape any Node program's output or code whether or not it reads them through
 * `process.env` (Node reads `NODE_*` itself: NODE_PRESERVE_SYMLINKS, NODE_NO_WARNINGS, ...).
 */
const ALWAYS_ENV = ["NO_COLOR", "FORCE_COLOR", "TERM", "CI", "COLUMNS"];
const alwaysCounts = (name: string) => name.startsWith("NODE_") || ALWAYS_ENV.includes(name);

/**
 * The invocation a memo answers: the arguments, the working directory, the environment
 * variables `names` (all of them for `*`) and those Node reads itself, as a checksum (no value
 * is kept), whether stdout and stderr are terminals and how wide, and which Node with which
 * options. `value` gives a variable's value (by default the environment's now; a plan that
 * saves its memo gives the value each had when first read). A checksum detects change, not
 * tampering: the file is the user's own, 0600.
 */
export function invocationKey(argv: readonly string[], names: readonly string[] | "*", env: NodeJS.ProcessEnv = process.env, value: (name: string) => string | undefined = (name) => (Object.hasOwn(env, name) ? env[name] : undefined)): string {
  const counted = [...new Set([...(names === "*" ? Object.keys(env) : names), ...Object.keys(env).filter(alwaysCounts), ...ALWAYS_ENV])].sort();
  const values = counted
    .map((name) => {
      const current = value(name);
      return current === undefined ? name : `${name}=${current}`;
    })
    .join("\0");
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
  // Witnesses are compared in order: the first that differs ends the check.
  for (const [key, stat] of memo.witnesses) if (currentStat(key) !== stat) return undefined;
  return { listing: memo.listing, stdout: memo.stdout };
}

function declineReason(stdout: string): string | undefined {
  const recorder = globals[RECORDER_KEY];
  if (!recorder) return "nothing was recorded (Node without module.registerHooks)";
  if (recorder.vetoed !== undefined) return recorder.vetoed;
  if (recorder.stdoutBytes !== Buffer.byteLength(stdout)) return "it printed more than the plan on stdout";
  if (recorder.listing === undefined) return "its file inputs were not noted";
  for (const [key, line] of recorder.witnesses) if (line === UNREADABLE) return `${key.slice(2)} could not be read`;
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
  const declined = declineReason(stdout);
  if (declined !== undefined) {
    forgetPlanMemo(siteDir);
    return declined;
  }
  const recorder = globals[RECORDER_KEY]!;
  // The names Node reads itself are kept too, so that one unset since is seen as well as one set since.
  const raw = recorder.env;
  const env = recorder.envAll ? "*" : [...new Set([...recorder.envRead.keys(), ...Object.keys(raw).filter(alwaysCounts)])].sort();
  const firstValue = (name: string) => (recorder.envRead.has(name) ? recorder.envRead.get(name) : Object.hasOwn(raw, name) ? raw[name] : undefined);
  const record: PlanMemoRecord = { invocation: invocationKey(argv, env, raw, firstValue), env, witnesses: [...recorder.witnesses], listing: recorder.listing!, stdout }; // declineReason: not undefined
  const held = planMemoCache.read(siteDir);
  if (held && JSON.stringify(held) === JSON.stringify(record)) return undefined;
  return planMemoCache.write(siteDir, record) ? undefined : "the cache could not be written";
}
