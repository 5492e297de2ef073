import path from "node:path";
import type { PresetName, SecretBackend, StateBackend, StateLock, StepLogger, TargetSession } from "../contracts.js";
import { createStepContext, type SiteStep } from "../context/step-context.js";
import { attributePluginError, errors } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";
import { FileHashCache } from "../fingerprint/file-hash-cache.js";
import { markFileInputs } from "../cache/no-file-inputs.js";
import { openSiteFileInputs, type SiteFileInputs } from "../fingerprint/site-files.js";
import { buildStepGraph, type StepGraph } from "../graph/step-graph.js";
import { MIN_SECRET_LENGTH, Redactor } from "../log/redactor.js";
import { loadPlugins, type LoadedPlugin } from "../plugins/load-plugins.js";
import { appliesWhen, assertConfigValid, type OwnedConfigKey, type ResolvedConfig } from "../config/resolve-config.js";
import { AgeSecretBackend } from "../secrets/age-secret-backend.js";
import { generateSecret } from "../secrets/generate-secret.js";
import { SiteSecrets } from "../secrets/site-secrets.js";
import { loadSite, type SiteFile } from "../site/load-site.js";
import type { EngineEvent } from "./engine-events.js";
import { trace } from "../log/trace.js";
import { progressFile } from "../configure/configure-flow.js";
import { removeAtomicWriteLeftovers } from "../files/write-leftovers.js";
import { removeCacheLeftovers } from "../cache/cache-leftovers.js";
import { CACHE_DIR, cachePath } from "../cache/cache-file.js";
import { FILE_IDS } from "../cache/file-ids-cache.js";
import { currentHolder } from "../state/file-lock.js";
import { LateSecrets, assembleSteps, chooseTarget, narrowResourceKindInputs, type ChosenTarget } from "./assemble-steps.js";
import { combineProblems, configProblems } from "./site-problems.js";
import { resolveSiteConfig, type OwnedSecret } from "./site-config.js";
import { createBackend } from "./site-backends.js";

export type { OwnedSecret } from "./site-config.js";

/**
 * Applies the `state.backend=NAME` and `state.options.KEY=VALUE` entries of `--set` to the
 * site's state settings (a whole number becomes a number) and returns the other entries.
 */
export function applyStateSets(site: Pick<SiteFile, "state">, sets: readonly string[]): string[] {
  const rest: string[] = [];
  for (const entry of sets) {
    const at = entry.indexOf("=");
    const key = at < 0 ? entry : entry.slice(0, at);
    const value = entry.slice(at + 1);
    if (at > 0 && key === "state.backend") site.state = { ...site.state, backend: value };
    else if (at > 0 && key.startsWith("state.options.") && key.length > "state.options.".length) {
      site.state = { ...site.state, options: { ...site.state.options, [key.slice("state.options.".length)]: /^\d+$/.test(value) ? Number(value) : value } };
    } else rest.push(entry);
  }
  return rest;
}

/** A lock not renewed for this long is stale; a deploy renews it while it runs. */
export const SITE_LOCK_TTL_MS = 120_000;

export interface OpenSiteOptions {
  /** Site directory (holds stepwise.yaml). */
  dir: string;
  /** `key=value` from `--set`. */
  sets?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Overrides `preset:` of the site file. */
  preset?: PresetName;
  onEvent?: (event: EngineEvent) => void;
  /** `--lock-wait`: how long taking the site lock waits for a live holder before exit 3. */
  lockWaitMs?: number;
}

/**
 * Everything one command needs about a site, loaded once: the site file, its plugins, the
 * step graph, resolved config, and (lazily) secrets, state and the target connection.
 */
export class SiteSession {
  readonly redactor = new Redactor();
  private secretsPromise: Promise<SiteSecrets> | undefined;
  private targetSession: Promise<TargetSession> | undefined;
  private readonly abort = new AbortController();

  private constructor(
    readonly site: SiteFile,
    readonly plugins: LoadedPlugin[],
    readonly steps: Map<string, SiteStep>,
    readonly disabledSteps: SiteStep[],
    readonly graph: StepGraph,
    readonly config: ResolvedConfig,
    readonly ownedConfig: OwnedConfigKey[],
    readonly ownedSecrets: OwnedSecret[],
    readonly target: ChosenTarget | undefined,
    readonly stateBackend: StateBackend,
    readonly secretBackend: SecretBackend,
    readonly fileHashes: FileHashCache,
    private readonly emit: (event: EngineEvent) => void,
    private readonly siteProblems: readonly StepwiseError[],
    private readonly lockWaitMs: number | undefined,
  ) {}

  /** Throws what makes the site impossible to plan or deploy (found when it was opened). */
  assertSiteUsable(): void {
    const problem = combineProblems(this.siteProblems);
    if (problem) throw problem;
  }

  /**
   * Opens the site in `options.dir`: loads stepwise.yaml and its plugins, chooses the target,
   * assembles the steps and their graph, resolves config and the state and secrets backends.
   * Throws what makes the site unreadable; keeps what only makes it undeployable for
   * {@link assertSiteUsable}, so the commands that fix it still open it.
   */
  static async open(options: OpenSiteOptions): Promise<SiteSession> {
    const emit = options.onEvent ?? (() => {});
    const site = loadSite(options.dir);
    trace("site loaded");
    if (options.preset) site.preset = options.preset;
    const plugins = await loadPlugins(site.dir, site.plugins);
    trace("plugins loaded");
    const target = chooseTarget(site, plugins);
    // The templates step digests with the session's secrets, bound once the session exists.
    const lateSecrets = new LateSecrets();
    const { steps, disabled, problems } = assembleSteps(site, plugins, target, lateSecrets);
    const graph = buildStepGraph([...steps.values()]);
    // `--set state.backend=…` / `--set state.options.KEY=…` choose the state for this run (CI); the rest are config.
    const sets = applyStateSets(site, options.sets ?? []);
    const { config, ownedConfig, ownedSecrets } = resolveSiteConfig(site, steps.values(), target, { env: options.env ?? process.env, sets });
    narrowResourceKindInputs(steps.values(), target, config);
    problems.push(...configProblems({ steps: [...steps.values()], owned: ownedConfig, config, site, sets, plugins, target }));

    const ctx = { siteDir: site.dir, siteName: site.name, warn: (message: string) => emit({ type: "warning", message }) };
    const stateBackend = await createBackend("state", site.state.backend, site.state.options, plugins, ctx);
    const secretBackend = await createBackend("secrets", site.secrets.backend, site.secrets.options, plugins, ctx);
    const fileHashes = new FileHashCache(site.dir, cachePath(site.dir, FILE_IDS));
    const session = new SiteSession(site, plugins, steps, disabled, graph, config, ownedConfig, ownedSecrets, target, stateBackend, secretBackend, fileHashes, emit, problems, options.lockWaitMs);
    lateSecrets.bind(() => session.secrets());
    trace("session open");
    return session;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Aborts running steps (SIGINT/SIGTERM). */
  interrupt(reason = "interrupted"): void {
    if (!this.abort.signal.aborted) this.abort.abort(errors.interrupted(reason));
  }

  /**
   * Takes the site lock (the state backend's lock) for `operation`. Every command that writes
   * the site's state, secrets or config holds it while it reads what it changes and writes it
   * back, so no write is lost. Secrets this command already read are read again under it;
   * temp files that killed writers left are removed. A `brief` lock (one quick edit) is waited
   * for by others; a refusal (exit 3) names the holder.
   */
  async lockSite(operation: string, options: { brief?: boolean; ttlMs?: number } = {}): Promise<StateLock> {
    const waitMs = this.lockWaitMs;
    const onWait = (holder: string) => this.emit({ type: "warning", message: `Waiting up to ${Math.round((waitMs ?? 0) / 1000)} s for the state lock held by ${holder}.` });
    const lock = await this.stateBackend.lock(currentHolder(operation, options), options.ttlMs ?? SITE_LOCK_TTL_MS, { waitMs, onWait });
    try {
      removeAtomicWriteLeftovers(this.filesWrittenUnderLock());
      removeCacheLeftovers(path.join(this.site.dir, CACHE_DIR));
      if (this.secretsPromise) await (await this.secretsPromise).reload();
    } catch (error) {
      await lock.release();
      throw error;
    }
    return lock;
  }

  /** Runs one quick edit (`write`) under a brief site lock: read what it changes, change, write. */
  async underLock<T>(operation: string, write: () => Promise<T>): Promise<T> {
    const lock = await this.lockSite(operation, { brief: true });
    try {
      return await write();
    } finally {
      await lock.release();
    }
  }

  /** Files that only holders of the site lock write (the state backend cleans its own). */
  private filesWrittenUnderLock(): string[] {
    const secretFiles = this.secretBackend instanceof AgeSecretBackend ? this.secretBackend.filesWritten() : [];
    return [this.site.file, progressFile(this.site.dir), ...secretFiles];
  }

  secrets(): Promise<SiteSecrets> {
    this.secretsPromise ??= SiteSecrets.open(this.secretBackend, this.redactor);
    return this.secretsPromise;
  }

  /** Refuses a store holding a secret too short to redact (written by other means than stepwise); plans check it too. */
  async assertSecretsRedactable(): Promise<void> {
    const [first] = (await this.secrets()).tooShort();
    if (first !== undefined) throw errors.secretTooShort(first, MIN_SECRET_LENGTH);
  }

  /** Throws one error for every invalid config value (exit 2). */
  assertConfigValid(): void {
    assertConfigValid(this.config);
  }

  /** Throws one error listing every required config key without a value (exit 2). */
  assertNoMissingConfig(): void {
    if (this.config.missing.length === 0) return;
    throw errors.configMissing(this.config.missing.map((m) => ({ key: m.key, owner: m.owner, description: m.spec.description })));
  }

  /** Secrets that apply (their `when` holds), with whether they are set. */
  async secretStatus(): Promise<(OwnedSecret & { set: boolean; applies: boolean })[]> {
    const secrets = await this.secrets();
    return this.ownedSecrets.map((s) => ({ ...s, set: secrets.has(s.name), applies: appliesWhen(s.spec.when, this.config) }));
  }

  /** Makes every generated secret that does not exist yet (CSPRNG, stored atomically). */
  async ensureGeneratedSecrets(): Promise<string[]> {
    const secrets = await this.secrets();
    const made = new Map<string, string>();
    for (const { name, spec, applies } of await this.secretStatus()) {
      if (spec.generate && applies && !secrets.has(name) && !made.has(name)) made.set(name, generateSecret(spec.generate));
    }
    if (made.size > 0) await secrets.set(made);
    return [...made.keys()];
  }

  /** Required user-provided secrets that apply and are missing; deploy refuses while any are. */
  async assertRequiredSecrets(): Promise<void> {
    const missing = (await this.secretStatus()).filter((s) => !s.spec.generate && s.spec.required !== false && s.applies && !s.set);
    if (missing.length > 0) throw errors.secretMissing(missing.map((m) => ({ name: m.name, usedBy: m.owner })));
  }

  /**
   * The files each step declares, opened: their identity (known from git's listing when nothing
   * changed) and, on demand, their content ids from git's index or one walk and the stat cache.
   */
  fileInputs(): Promise<SiteFileInputs> {
    const globs = new Map<string, string[]>();
    for (const step of this.steps.values()) if (step.inputs.files.length) globs.set(step.name, step.inputs.files);
    markFileInputs(this.site.dir, globs.size > 0);
    return openSiteFileInputs(this.site.dir, globs, this.fileHashes);
  }

  /** The target's session, connected on first use and shared by all steps of this command. */
  connectTarget(): Promise<TargetSession> {
    if (!this.target) {
      return Promise.reject(errors.targetMissing());
    }
    const target = this.target;
    this.targetSession ??= this.secrets().then((secrets) =>
      target.definition
        .connect({
          site: this.siteInfo(),
          config: this.config,
          secrets: { get: (name) => secrets.get(name), fingerprint: (name) => secrets.fingerprint(name) },
          log: this.logger(`target:${target.definition.name}`),
          signal: this.signal,
        })
        .catch((error: unknown) => {
          throw this.wrapPluginError(error, target.plugin.id, undefined, "connect");
        }),
    );
    return this.targetSession;
  }

  async close(): Promise<void> {
    if (this.targetSession) {
      const session = await this.targetSession.catch(() => undefined);
      await session?.close?.().catch(() => {});
    }
  }

  siteInfo() {
    return { name: this.site.name, dir: this.site.dir, preset: this.site.preset };
  }

  logger(step: string): StepLogger {
    const log = (level: "info" | "warn" | "debug" | "progress") => (message: string) =>
      this.emit({ type: "log", step, level, message: this.redactor.redact(String(message)) });
    return { info: log("info"), warn: log("warn"), debug: log("debug"), progress: log("progress") };
  }

  emitEvent(event: EngineEvent): void {
    this.emit(event);
  }

  /** A step context for `run`/`check`. */
  async contextFor(
    step: SiteStep,
    files: ReadonlyMap<string, string>,
    upstreamOutputs: (s: string) => import("../contracts.js").StepOutputs | undefined,
    previousOutputs: import("../contracts.js").StepOutputs | undefined,
    onEnsured?: (result: import("../contracts.js").ResourceResult) => void,
  ) {
    const secrets = await this.secrets();
    return createStepContext({
      site: this.siteInfo(),
      step,
      config: this.config,
      secrets,
      files,
      upstreamOutputs,
      previousOutputs,
      target: this.target
        ? { name: this.target.definition.name, plugin: this.target.plugin.id, kinds: this.target.definition.kinds, session: () => this.connectTarget(), attribute: (error: unknown, hook: string) => this.wrapPluginError(error, this.target!.plugin.id, step.name, hook) }
        : undefined,
      signal: this.signal,
      log: this.logger(step.name),
      ...(onEnsured ? { onEnsured } : {}),
    });
  }

  /** {@link attributePluginError} with this site's redactor. */
  wrapPluginError(error: unknown, plugin: string, step: string | undefined, hook?: string): StepwiseError {
    return attributePluginError(error, plugin, step, (text) => this.redactor.redact(text), hook);
  }
}
