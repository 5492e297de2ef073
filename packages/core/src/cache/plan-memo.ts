// The no-op plan memo, `.stepwise/cache/plan-memo.json`. Loaded by the CLI's entry before
// anything else (it is part of `@stepwise/core/prefetch`), so it imports only Node's built-ins
// and modules that import no more. docs/design.md, "No-op plan memo", says what it covers.
import childProcess from "node:child_process";
import fs, { existsSync, lstatSync, rmSync, statSync } from "node:fs";
import nodeModule from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cachePath, defineJsonCache, isRecord, isStringPair } from "./cache-file.js";
import { checksum } from "./checksum.js";
import { MISSING_STAT, statLine } from "./stat-line.js";

/**
 * A plan that found nothing to do, with everything it was a function of. Replayed by the next
 * `stepwise plan` whose invocation is the same, whose witnesses all have the same stat, and
 * whose git listing of the site has the same identity; any difference, a damaged file or one
 * of another version plans afresh. 0600: the plan's text names config values.
 */
interface PlanMemoRecord {
  /** {@link invocationKey}: the arguments, directory, environment, terminal and Node. */
  invocation: string;
  /**
   * `[witness, statLine]`: `s PATH` the stat of a file the plan read or looked for (followed
   * through links, `- - - -` for one that was not there), `l PATH` the stat of the entry itself
   * (a link, a directory whose entries a lookup went through).
   */
  witnesses: [string, string][];
  /** The identity of the git listing the file inputs came from; null for a site without file inputs. */
  listing: string | null;
  /** What the plan printed on stdout. */
  stdout: string;
}

const isPlanMemoRecord = (value: unknown): value is PlanMemoRecord =>
  isRecord(value) &&
  typeof value.invocation === "string" &&
  Array.isArray(value.witnesses) &&
  value.witnesses.every(isStringPair) &&
  (value.listing === null || typeof value.listing === "string") &&
  typeof value.stdout === "string";

/**
 * Memos kept per site, one per invocation, the most recent first: a CI job that runs `plan`
 * and `plan --json` by turns, or two shells, would otherwise replace each other's every time.
 */
const PLAN_MEMO_SLOTS = 4;

export const planMemoCache = defineJsonCache<{ memos: PlanMemoRecord[] }>({
  name: "plan-memo.json",
  version: 3,
  mode: 0o600,
  isValid: (value): value is { memos: PlanMemoRecord[] } => isRecord(value) && Array.isArray(value.memos) && value.memos.every(isPlanMemoRecord),
});

/** Changes within this long before a plan started may share a timestamp with a later one (as `RACY_WINDOW_MS`). */
const RACY_WINDOW_MS = 2000;

/** What one `plan` records while it runs; shared by the CLI's copy of this module and core's. */
interface Recorder {
  readonly startedAt: number;
  /** {@link invocationKey} when the plan started, before anything could change the environment. */
  readonly invocation: string;
  readonly witnesses: Map<string, string>;
  /** Why this plan cannot be replayed (the first reason given). */
  vetoed: string | undefined;
  /** The file inputs' git listing identity: null without file inputs, undefined until known. */
  listing: string | null | undefined;
  /** What reached `process.stdout.write` (innermost, after any wrapper a plugin added): a replay prints exactly this. */
  readonly stdout: string[];
  /** `exit` listeners when the plan started: one added since may print or set the exit code after the plan. */
  readonly exitListeners: number;
  /** process.exit, reallyExit, emit and kill as the plan started: code that replaces one (signal-exit) runs at exit, after the plan. */
  readonly exitPaths: readonly unknown[];
  /** Above 0 while a plugin's code loads or runs its factory: the files it reads are witnesses. */
  pluginCode: number;
  /** The plan's text, once the plan command found nothing to do ({@link offerPlanMemo}). */
  offered: { siteDir: string; stdout: string } | undefined;
  /** Ends the resolve hook: after a veto, recording costs time for nothing. */
  stopHook: (() => void) | undefined;
}

const RECORDER_KEY = Symbol.for("stepwise.plan-memo.v2");
const OWN_SPAWN_KEY = Symbol.for("stepwise.plan-memo.own-spawn");
const globals = globalThis as Record<symbol, unknown>;
const recorderNow = () => globals[RECORDER_KEY] as Recorder | undefined;

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
  const recorder = recorderNow();
  if (!recorder || recorder.vetoed !== undefined) return;
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
  const recorder = recorderNow();
  if (!recorder || recorder.vetoed !== undefined) return;
  recorder.vetoed = reason;
  recorder.witnesses.clear();
  recorder.stopHook?.();
}

/**
 * The plan's file inputs: the identity of the git listing they came from and the files read
 * from disk (site-relative, with the stat the collection saw); undefined when they cannot be
 * vouched for, null for a site without file inputs.
 */
export function notePlanFileInputs(siteDir: string, basis: { listing: string; read: readonly (readonly [string, string])[] } | null | undefined): void {
  const recorder = recorderNow();
  if (!recorder) return;
  if (basis === undefined) return vetoPlanMemo("its file inputs are not vouched for by git (outside git, untracked directories, converting attributes or a file changed too recently)");
  recorder.listing = basis === null ? null : basis.listing;
  // The collection's stats are lstat lines (a link is read as a link): witnessed as entries.
  if (recorder.vetoed === undefined) for (const [file, stat] of basis?.read ?? []) recorder.witnesses.set(witnessKey("l", path.resolve(siteDir, file)), stat);
}

/**
 * Runs `load` (a plugin's module import, its factory) as plugin code: a plugin may read files of
 * its own when it loads (a JSON of step names, its package.json), outside anything core reads,
 * so while it runs every path given to Node's fs read functions is a witness.
 */
export async function asPluginCode<T>(load: () => Promise<T>): Promise<T> {
  const recorder = recorderNow();
  if (recorder) recorder.pluginCode++;
  try {
    return await load();
  } finally {
    if (recorder) recorder.pluginCode--;
  }
}

/** {@link asPluginCode} for synchronous code (a plugin's factory: what it returns is not awaited). */
export function asPluginCodeSync<T>(run: () => T): T {
  const recorder = recorderNow();
  if (recorder) recorder.pluginCode++;
  try {
    return run();
  } finally {
    if (recorder) recorder.pluginCode--;
  }
}

/** Runs `spawn` (core's own git, or its hash workers) without it counting as a child process or worker of the plan's code. */
export function ownSpawn<T>(spawn: () => T): T {
  globals[OWN_SPAWN_KEY] = true;
  try {
    return spawn();
  } finally {
    globals[OWN_SPAWN_KEY] = false;
  }
}

/** Options that load code before the resolve hook is registered: what they load is not witnessed. */
const PRELOAD_OPTION = /(^|\s)(--import|--require|-r|--loader|--experimental-loader)(=|\s|$)/;

/** Node's fs read functions whose first argument is a path (or fd): while plugin code runs, each path is a witness. */
const FS_READS = ["readFileSync", "readFile", "existsSync", "exists", "statSync", "lstatSync", "stat", "lstat", "statfsSync", "statfs", "readdirSync", "readdir", "opendirSync", "opendir", "openSync", "open", "accessSync", "access", "createReadStream", "realpathSync", "realpath", "readlinkSync", "readlink", "readSync", "read"] as const;
const FS_PROMISE_READS = ["readFile", "stat", "lstat", "statfs", "readdir", "opendir", "open", "access", "realpath", "readlink"] as const;
/**
 * Node's fs functions that write to a file descriptor or open a path to write: one to fd 1 or 2,
 * or to a path that is no regular file, is output a replay would not print.
 */
const FS_WRITES = ["writeSync", "write", "writevSync", "writev", "writeFileSync", "writeFile", "appendFileSync", "appendFile", "createWriteStream", "openSync", "open"] as const;
const FS_PROMISE_WRITES = ["writeFile", "appendFile", "open"] as const;

/**
 * `wrapper` in place of `original`, keeping every property of it (`realpathSync.native`,
 * `write`'s custom promisify arguments): code that looks them up must see no difference.
 */
function sameShape<F extends (...args: never[]) => unknown>(wrapper: F, original: unknown): F {
  for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(original))) {
    if (key === "prototype") continue; // a function's own, not configurable
    Object.defineProperty(wrapper, key, descriptor);
  }
  for (const symbol of Object.getOwnPropertySymbols(original)) Object.defineProperty(wrapper, symbol, Object.getOwnPropertyDescriptor(original, symbol)!);
  return wrapper;
}

/** The functions through which code can act at exit, after the plan: see {@link Recorder.exitPaths}. */
const exitPaths = (): unknown[] => {
  const anyProcess = process as unknown as Record<string, unknown>;
  return [anyProcess.exit, anyProcess.reallyExit, anyProcess.emit, anyProcess.kill];
};

/** Whether the flags of an open call (`w`, `a`, `r+`, O_WRONLY, O_RDWR) may write. */
function opensToWrite(name: string, flags: unknown): boolean {
  if (!name.startsWith("open")) return true; // writeFile, appendFile, createWriteStream
  if (typeof flags === "string") return /[wa+]/.test(flags);
  if (typeof flags === "number") return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR)) !== 0;
  return false; // open's default flags: "r"
}

/**
 * The path an fs function was given: a string (fs takes `file:` strings as paths too), a
 * `file:` URL or a Buffer; a number for a file descriptor; undefined for anything else.
 */
function pathOf(value: unknown): string | number | undefined {
  if (typeof value === "string" || typeof value === "number") return value;
  if (value instanceof URL) return value.protocol === "file:" ? fileURLToPath(value) : undefined;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

/**
 * Vetoes output a replay would not print: a write to fd 1 or 2, or a write by path to something
 * other than a regular file (/dev/stderr, a terminal, a FIFO).
 */
function watchWriteTarget(name: string, args: readonly unknown[]): void {
  const target = pathOf(args[0]);
  if (target === 1 || target === 2) return vetoPlanMemo("it wrote to stdout or stderr directly");
  if (typeof target !== "string" || !opensToWrite(name, args[1])) return; // another descriptor: its path was checked when opened
  const stat = statSync(target, { throwIfNoEntry: false });
  if (stat && !stat.isFile()) vetoPlanMemo(`it wrote to ${target}, which is no regular file`);
}

/**
 * Starts recording what this `plan` reads: the files core reads ({@link witnessFile}), every
 * module loaded from here on (a resolve hook), what plugin code reads as it loads
 * ({@link asPluginCode}), and `loaded`, the modules already loaded (the CLI's entry, stat'd
 * when it started: `[path, statLine]`). Whatever would make a replay differ vetoes it: output
 * other than the plan's text, a child process, a Node warning, preloaded modules. The
 * invocation (arguments, environment) is taken now, before any code could change it. Without
 * `module.registerHooks` (Node < 22.15) nothing is recorded.
 */
export function recordPlanInputs(loaded: readonly (readonly [string, string])[]): void {
  if (recorderNow() || typeof nodeModule.registerHooks !== "function") return;
  const recorder: Recorder = {
    startedAt: Date.now(),
    invocation: invocationKey(process.argv.slice(1)),
    witnesses: new Map(loaded.map(([file, stat]) => [witnessKey("s", file), stat])),
    vetoed: undefined,
    listing: undefined,
    stdout: [],
    exitListeners: process.listenerCount("exit"),
    exitPaths: exitPaths(),
    pluginCode: 0,
    offered: undefined,
    stopHook: undefined,
  };
  globals[RECORDER_KEY] = recorder;
  for (const [file] of loaded) witness("l", path.dirname(file));
  if (PRELOAD_OPTION.test([...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" "))) vetoPlanMemo("modules were preloaded (--import, --require, --loader) before a plan records what it loads");
  watchOutput(recorder);
  watchChildren();
  watchPluginReads(recorder);
  const hook = nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      let resolved;
      try {
        resolved = nextResolve(specifier, context);
      } catch (error) {
        // Not found now (an optional dependency): where Node looked is a witness, so one installed later is seen.
        if (recorder.vetoed === undefined) {
          try {
            witnessLookup(specifier, context.parentURL);
          } catch {
            vetoPlanMemo(`where Node looked for ${specifier} could not be witnessed`);
          }
        }
        throw error; // Node's own error, whatever the witnessing met
      }
      if (resolved.url.startsWith("file:") && recorder.vetoed === undefined) {
        try {
          witnessModule(fileURLToPath(resolved.url), specifier, context.parentURL);
        } catch {
          vetoPlanMemo(`a module could not be witnessed (${resolved.url})`);
        }
      }
      return resolved;
    },
  });
  recorder.stopHook = () => hook.deregister();
  if (recorder.vetoed !== undefined) hook.deregister();
}

/** A chunk given to a stream's write, as the text it stands for. */
function chunkText(chunk: unknown, encoding: unknown): string | undefined {
  if (typeof chunk === "string") return typeof encoding === "string" && encoding !== "utf8" && Buffer.isEncoding(encoding) ? Buffer.from(chunk, encoding).toString("utf8") : chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
  return undefined;
}

/**
 * A replay prints the plan's text and nothing else: anything more printed (a plugin's
 * console.log, a warning, a write to fd 1 or 2 past the streams) vetoes, and what reached
 * stdout is kept to be compared with the text (a plugin's wrapper may have changed it).
 */
function watchOutput(recorder: Recorder): void {
  const stdoutWrite = process.stdout.write;
  process.stdout.write = sameShape(function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    const text = chunkText(chunk, rest[0]);
    if (text === undefined) vetoPlanMemo("it printed something that is not text on stdout");
    else recorder.stdout.push(text);
    return (stdoutWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  }, stdoutWrite) as typeof process.stdout.write;
  const stderrWrite = process.stderr.write;
  const tracing = process.env.STEPWISE_TRACE === "1";
  process.stderr.write = sameShape(function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    // Trace lines are not part of a plan's output (a replay prints its own).
    if (!(tracing && typeof chunk === "string" && /^trace {1,}\d/.test(chunk))) vetoPlanMemo("it printed on stderr");
    return (stderrWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  }, stderrWrite) as typeof process.stderr.write;
  const writes = (target: Record<string, unknown>, names: readonly string[]) => {
    for (const name of names) {
      const original = target[name];
      if (typeof original !== "function") continue;
      target[name] = sameShape(function (this: unknown, ...args: unknown[]) {
        if (recorder.vetoed === undefined) {
          try {
            watchWriteTarget(name, args);
          } catch {
            vetoPlanMemo(`a file the plan wrote could not be checked (${String(args[0])})`);
          }
        }
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      }, original);
    }
  };
  writes(fs as unknown as Record<string, unknown>, FS_WRITES);
  writes(fs.promises as unknown as Record<string, unknown>, FS_PROMISE_WRITES);
  const rawDebug = (process as unknown as { _rawDebug?: (...args: unknown[]) => void })._rawDebug;
  if (typeof rawDebug === "function") {
    (process as unknown as { _rawDebug: (...args: unknown[]) => void })._rawDebug = sameShape(function (this: unknown, ...args: unknown[]) {
      vetoPlanMemo("it printed on stderr");
      return rawDebug.apply(this, args);
    }, rawDebug);
  }
  process.on("warning", () => vetoPlanMemo("Node printed a warning"));
  // stdin: what a plan reads there (options piped in) is no witness.
  const stdin = Object.getOwnPropertyDescriptor(process, "stdin");
  if (stdin?.get && stdin.configurable) {
    const get = stdin.get;
    Object.defineProperty(process, "stdin", { ...stdin, get: sameShape(function (this: unknown) {
      vetoPlanMemo("it used stdin");
      return get.call(this);
    }, get) });
  }
}

/**
 * A child process or worker thread the plan's code starts (its output, what it reads) is
 * beyond any witness; core's own git and hash workers are not ones ({@link ownSpawn}).
 */
function watchChildren(): void {
  // Loaded here, not imported: `stepwise --version` loads this module too, and an import builds an ES module facade.
  const diagnosticsChannel = process.getBuiltinModule("node:diagnostics_channel");
  diagnosticsChannel.subscribe("child_process", () => {
    if (globals[OWN_SPAWN_KEY] !== true) vetoPlanMemo("it started a child process");
  });
  diagnosticsChannel.subscribe("worker_threads", () => {
    if (globals[OWN_SPAWN_KEY] !== true) vetoPlanMemo("it started a worker thread");
  });
  const children = childProcess as unknown as Record<string, unknown>;
  for (const name of ["spawnSync", "execSync", "execFileSync"] as const) {
    const original = children[name] as (...args: unknown[]) => unknown;
    children[name] = sameShape(function (this: unknown, ...args: unknown[]) {
      vetoPlanMemo("it started a child process");
      return original.apply(this, args);
    }, original);
  }
  nodeModule.syncBuiltinESMExports();
}

/** Witnesses the path a read function was given; a file descriptor was witnessed when opened, but stdin's (0) is none. */
function witnessPathArgument(value: unknown, options: unknown, directory: boolean): void {
  const file = pathOf(value);
  if (typeof file === "number") {
    if (file === 0) vetoPlanMemo("it read stdin");
    return;
  }
  if (file === undefined) return vetoPlanMemo(`a file plugin code read could not be named (${typeof value === "object" ? String(value) : typeof value})`);
  witness("s", file);
  if (!directory) return;
  witness("l", file);
  // A recursive listing depends on every directory below: not witnessed, so not replayable.
  if (typeof options === "object" && options !== null && (options as { recursive?: unknown }).recursive) vetoPlanMemo("plugin code listed a directory recursively");
}

function watchPluginReads(recorder: Recorder): void {
  const wrap = (target: Record<string, unknown>, name: string) => {
    const original = target[name];
    if (typeof original !== "function") return;
    const directory = name.startsWith("readdir") || name.startsWith("opendir");
    const wrapper = sameShape(function (this: unknown, ...args: unknown[]) {
      if (recorder.pluginCode > 0 && recorder.vetoed === undefined) {
        try {
          witnessPathArgument(args[0], args[1], directory);
        } catch {
          vetoPlanMemo(`a file plugin code read could not be witnessed (${String(args[0])})`);
        }
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    }, original);
    target[name] = wrapper;
    // realpath(.Sync).native: the same reads, by another road.
    const native = (original as { native?: unknown }).native;
    if (typeof native === "function") {
      (wrapper as unknown as { native: unknown }).native = sameShape(function (this: unknown, ...args: unknown[]) {
        if (recorder.pluginCode > 0 && recorder.vetoed === undefined) witnessPathArgument(args[0], undefined, false);
        return (native as (...a: unknown[]) => unknown).apply(this, args);
      }, native);
    }
  };
  for (const name of FS_READS) wrap(fs as unknown as Record<string, unknown>, name);
  for (const name of FS_PROMISE_READS) wrap(fs.promises as unknown as Record<string, unknown>, name);
  nodeModule.syncBuiltinESMExports();
}

/**
 * A module file: its stat and its directory's (an entry added next to it could take its place in
 * a lookup), and the places its specifier's lookup went through ({@link witnessLookup}).
 */
function witnessModule(file: string, specifier: string | undefined, parentURL: string | undefined): void {
  witness("s", file);
  witness("l", path.dirname(file));
  // The nearest package.json says whether a .js file is ESM or CommonJS ("type"): each one looked for is a witness.
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    witness("s", manifest);
    if (recorderNow()?.witnesses.get(witnessKey("s", manifest)) !== MISSING_STAT || path.dirname(dir) === dir) break;
  }
  if (specifier !== undefined) witnessLookup(specifier, parentURL);
}

/**
 * Where Node looks for `specifier` from `parentURL`. For a path specifier, where CommonJS would
 * probe: the path itself, its package.json (`main`) and its directory (`x.js` added beside
 * `x/index.js`). For a bare specifier, every `node_modules/NAME` the lookup passed or took, up
 * to the package found ({@link findPackageDir}), and the probing places of a subpath.
 */
function witnessLookup(specifier: string, parentURL: string | undefined): void {
  if (!parentURL?.startsWith("file:") || specifier.startsWith("#")) return;
  const parentDir = path.dirname(fileURLToPath(parentURL));
  if (specifier.startsWith(".") || path.isAbsolute(specifier)) return witnessProbes(path.resolve(parentDir, specifier));
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return; // node:, file:, data: URLs
  const parts = specifier.split("/");
  const nameParts = specifier.startsWith("@") ? 2 : 1;
  const found = findPackageDir(parentDir, parts.slice(0, nameParts).join("/"), (candidate) => lstatSync(candidate, { throwIfNoEntry: false }) !== undefined);
  if (found !== undefined && parts.length > nameParts) witnessProbes(path.join(found, ...parts.slice(nameParts)));
}

/**
 * Looks for the package `name` in `node_modules` from `fromDir` up to the root, as Node does,
 * and returns the first candidate `isFound` accepts. Every place looked at is a witness of a
 * recording plan: the entry itself (a package linked anew has a new link), the `node_modules`
 * directory holding it (`NAME.js` beside `NAME/`) and a scope's, the directory it leads to
 * followed through every link (a link further down a chain pointed elsewhere, even to
 * hard-linked copies), and its package.json (`exports`, `main`).
 */
export function findPackageDir(fromDir: string, name: string, isFound: (candidate: string) => boolean): string | undefined {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    witness("l", candidate);
    witness("l", path.dirname(candidate));
    if (name.startsWith("@")) witness("l", path.dirname(path.dirname(candidate)));
    witness("s", candidate);
    witness("s", path.join(candidate, "package.json"));
    if (isFound(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The places CommonJS looks for `target` (a path without an extension, a directory with a package.json or index). */
function witnessProbes(target: string): void {
  witness("s", target);
  witness("s", path.join(target, "package.json"));
  witness("s", path.dirname(target));
}

/**
 * Shell bookkeeping that changes between two runs of the same command and that no program
 * reads for its meaning: `_` (the last command), `OLDPWD`, `SHLVL`, and hyperfine's variable
 * of random length. Every other variable counts.
 */
const SHELL_BOOKKEEPING = new Set(["_", "OLDPWD", "SHLVL", "HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET"]);

/**
 * The invocation a memo answers: the arguments, the working directory, the whole environment
 * but {@link SHELL_BOOKKEEPING} (as a checksum: no value is kept; plugins and Node read
 * variables in ways a plan cannot list), whether stdin, stdout and stderr are terminals and how
 * wide, and which Node with which options. A checksum detects change, not tampering: the file is
 * the user's own, 0600.
 */
export function invocationKey(argv: readonly string[]): string {
  // stdin's kind through tty.isatty, not process.stdin: that getter makes a stream.
  const stdinIsTerminal = process.getBuiltinModule("node:tty").isatty(0);
  const terminal = [stdinIsTerminal, process.stdout.isTTY, process.stderr.isTTY, process.stdout.columns, process.stderr.columns].map(String).join(" ");
  const text = JSON.stringify([argv, process.cwd(), process.execPath, process.version, process.execArgv, process.platform, process.arch, terminal]);
  return `${checksum(text).toString(36)} ${environmentKey()}`;
}

/** Checksums of this process's environment but {@link SHELL_BOOKKEEPING}: equal keys, the same variables with the same values. */
export function environmentKey(): string {
  const env = Object.keys(process.env)
    .filter((name) => !SHELL_BOOKKEEPING.has(name))
    .sort()
    .map((name) => `${name}=${process.env[name]}`)
    .join("\0");
  return `${checksum(env).toString(36)} ${checksum(`\0${env}`).toString(36)}`;
}

/** Whether `siteDir` has a memo at all (one stat: git is started before the memo is read). */
export function hasPlanMemo(siteDir: string): boolean {
  return existsSync(cachePath(siteDir, planMemoCache.name));
}

/** `[path, statLine]` of each of `files` now (the CLI's entry, before anything else runs). */
export function statWitnesses(files: readonly string[]): [string, string][] {
  return files.map((file) => [path.resolve(file), currentStat(witnessKey("s", path.resolve(file)))]);
}

/**
 * The memo of `siteDir` when it answers this invocation and every witness has the stat it had;
 * the caller still compares the git listing's identity with `listing`. Never throws.
 */
export function readPlanMemo(siteDir: string, argv: readonly string[]): { listing: string | null; stdout: string } | undefined {
  const invocation = invocationKey(argv);
  const memo = planMemoCache.read(siteDir)?.memos.find((held) => held.invocation === invocation);
  if (!memo) return undefined;
  // In order: the first witness that differs ends the check.
  for (const [key, stat] of memo.witnesses) if (currentStat(key) !== stat) return undefined;
  return { listing: memo.listing, stdout: memo.stdout };
}

/** The plan command found nothing to do and printed `stdout`: {@link settlePlanMemo} keeps it if nothing else happens. */
export function offerPlanMemo(siteDir: string, stdout: string): void {
  const recorder = recorderNow();
  if (recorder) recorder.offered = { siteDir, stdout };
}

/**
 * Once the command is over (its exit code set, its output written, its session closed): keeps
 * the text {@link offerPlanMemo} was given for the next plan to replay, if the plan recorded
 * everything it was a function of and did nothing a replay would not: nothing vetoed it, it
 * exits 0, it printed only its text, its file inputs are known, and no witness changed too
 * recently to tell (a change in the same clock tick could keep the same stat). It takes the
 * first of the site's slots, this invocation's older memo gone. Returns why not (undefined
 * when kept); the memos kept before are then removed ({@link forgetPlanMemo}).
 */
export function settlePlanMemo(exitCode: number): string | undefined {
  const recorder = recorderNow();
  const offered = recorder?.offered;
  if (!recorder || !offered) return "the plan found something to do, or failed";
  const declined = declineReason(recorder, offered.stdout, exitCode);
  if (declined !== undefined) {
    forgetPlanMemo(offered.siteDir);
    return declined;
  }
  const record: PlanMemoRecord = { invocation: recorder.invocation, witnesses: [...recorder.witnesses], listing: recorder.listing!, stdout: offered.stdout }; // declineReason: listing known
  const held = planMemoCache.read(offered.siteDir)?.memos ?? [];
  if (held.length > 0 && JSON.stringify(held[0]) === JSON.stringify(record)) return undefined;
  const memos = [record, ...held.filter((memo) => memo.invocation !== record.invocation)].slice(0, PLAN_MEMO_SLOTS);
  return planMemoCache.write(offered.siteDir, { memos }) ? undefined : "the cache could not be written";
}

function declineReason(recorder: Recorder, stdout: string, exitCode: number): string | undefined {
  if (recorder.vetoed !== undefined) return recorder.vetoed;
  if (exitCode !== 0) return `it exits with ${exitCode}`;
  if (recorder.stdout.join("") !== stdout) return "it printed more than the plan on stdout";
  if (process.listenerCount("exit") > recorder.exitListeners) return "it left an exit listener, which may print or set the exit code after the plan";
  if (exitPaths().some((now, at) => now !== recorder.exitPaths[at])) return "it replaced process.exit, reallyExit, emit or kill, which may print or set the exit code after the plan";
  if (invocationKey(process.argv.slice(1)) !== recorder.invocation) return "the environment changed during the plan";
  if (recorder.listing === undefined) return "its file inputs were not noted";
  const racyAfter = recorder.startedAt - RACY_WINDOW_MS;
  for (const [key, line] of recorder.witnesses) {
    if (line === UNREADABLE) return `${key.slice(2)} could not be read`;
    const mtime = Number(line.split(" ")[2]);
    if (Number.isFinite(mtime) && mtime >= racyAfter) return `${key.slice(2)} changed too recently to tell a later change`;
  }
  return undefined;
}

/**
 * Removes the memo of `siteDir`, if any: after a plan that found something to do or could not
 * keep one, and before a deploy. Not for correctness (a memo names its own witnesses, and
 * whatever changed since fails them) but for time: while a memo is there, the next plan reads
 * it and lets git take both cores, which slows a plan that then loads the CLI after all.
 */
export function forgetPlanMemo(siteDir: string): void {
  if (!hasPlanMemo(siteDir)) return;
  try {
    rmSync(cachePath(siteDir, planMemoCache.name), { force: true });
  } catch {
    // something else in its place: ignored, as every damaged cache
  }
}
