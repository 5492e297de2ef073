import path from "node:path";
import type {
  JsonValue,
  PresetName,
  SecretBackend,
  SecretSpec,
  StateBackend,
  StateLock,
  StepDefinition,
  StepLogger,
  TargetDefinition,
  TargetSession,
} from "../contracts.js";
import { createStepContext, type SiteStep } from "../context/step-context.js";
import { ErrorCode, closestNames, errors } from "../errors/error-codes.js";
import { StepwiseError, isStepwiseError, redactError } from "../errors/stepwise-error.js";
import { FileHashCache } from "../fingerprint/file-hash-cache.js";
import { markFileInputs } from "../cache/no-file-inputs.js";
import { openSiteFileInputs, type SiteFileInputs } from "../fingerprint/site-files.js";
import { buildStepGraph, type StepGraph } from "../graph/step-graph.js";
import { Redactor } from "../log/redactor.js";
import { loadPlugins, type LoadedPlugin } from "../plugins/load-plugins.js";
import { appliesWhen, assertConfigValid, resolveConfig, type OwnedConfigKey, type ResolvedConfig } from "../config/resolve-config.js";
import { AgeSecretBackend, createAgeSecretBackend } from "../secrets/age-secret-backend.js";
import { generateSecret } from "../secrets/generate-secret.js";
import { SiteSecrets, secretTooShort } from "../secrets/site-secrets.js";
import { createWorkloadSteps } from "../services/service-steps.js";
import { createTemplatesStep, TEMPLATES_STEP } from "../templates/templates-step.js";
import { loadSite, type SiteFile } from "../site/load-site.js";
import { createFileStateBackend, STATE_DIR } from "../state/file-state-backend.js";
import { CORE_PACKAGE, CORE_VERSION } from "../version.js";
import type { EngineEvent } from "./engine-events.js";
import { unrealisableKinds } from "./resource-kinds.js";
import { trace } from "../log/trace.js";
import { progressFile } from "../configure/configure-flow.js";
import { removeAtomicWriteLeftovers } from "../files/write-leftovers.js";
import { removeCacheLeftovers } from "../cache/cache-leftovers.js";
import { CACHE_DIR, cachePath } from "../cache/cache-file.js";
import { FILE_IDS } from "../cache/file-ids-cache.js";
import { currentHolder } from "../state/file-lock.js";

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
}

/** A secret some step owns, with the step. */
export interface OwnedSecret {
  name: string;
  spec: SecretSpec;
  owner: string;
}

const BUILTIN_ID = `${CORE_PACKAGE}@${CORE_VERSION}`;

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
    readonly target: { definition: TargetDefinition; plugin: LoadedPlugin } | undefined,
    readonly stateBackend: StateBackend,
    readonly secretBackend: SecretBackend,
    readonly fileHashes: FileHashCache,
    private readonly emit: (event: EngineEvent) => void,
    private readonly siteProblems: readonly StepwiseError[],
  ) {}

  /** Throws what makes the site impossible to plan or deploy (found when it was opened). */
  assertSiteUsable(): void {
    const [first, ...rest] = this.siteProblems;
    if (!first) return;
    if (rest.length === 0) throw first;
    throw new StepwiseError(first.code, this.siteProblems.map((p) => `${p.message}${p.hint ? `\n    fix: ${p.hint}` : ""}`).join("\n"), { hint: first.hint, location: first.location });
  }

  static async open(options: OpenSiteOptions): Promise<SiteSession> {
    const emit = options.onEvent ?? (() => {});
    const site = loadSite(options.dir);
    trace("site loaded");
    if (options.preset) site.preset = options.preset;
    const plugins = await loadPlugins(site.dir, site.plugins);
    trace("plugins loaded");

    const target = chooseTarget(site, plugins);
    const candidates: { definition: StepDefinition; plugin: LoadedPlugin | undefined; foundation: boolean; siteInput?: SiteStep["siteInput"] }[] = [];
    for (const plugin of plugins) for (const definition of plugin.definition.steps ?? []) candidates.push({ definition, plugin, foundation: false });
    if (target) for (const definition of target.definition.steps ?? []) candidates.push({ definition, plugin: target.plugin, foundation: true });

    const pluginStepNames = new Set(candidates.map((c) => c.definition.name));
    const workloadNames = [...Object.keys(site.services).map((n) => `service:${n}`), ...Object.keys(site.jobs).map((n) => `job:${n}`)];
    const knownSteps = new Set([...pluginStepNames, ...workloadNames, ...(site.templates ? [TEMPLATES_STEP] : [])]);
    for (const { definition, siteInput } of createWorkloadSteps(site, knownSteps)) candidates.push({ definition, plugin: undefined, foundation: false, siteInput });
    // The templates step needs the session's secrets, which exist once the session does.
    let self: SiteSession | undefined;
    // Problems that make the site undeployable but must not stop `secrets set`, `state unlock`...
    const siteProblems: StepwiseError[] = [];
    if (site.templates) {
      const digest = async () => {
        const secrets = await self!.secrets();
        return (text: string) => secrets.digest(text);
      };
      try {
        candidates.push({
          definition: createTemplatesStep(site, knownSteps, digest),
          plugin: undefined,
          foundation: false,
          siteInput: { key: "templates", value: site.templates as unknown as JsonValue },
        });
      } catch (error) {
        if (!isStepwiseError(error)) throw error;
        siteProblems.push(error);
      }
    }

    const steps = new Map<string, SiteStep>();
    const disabled: SiteStep[] = [];
    const foundationNames = candidates.filter((c) => c.foundation).map((c) => c.definition.name);
    for (const { definition, plugin, foundation, siteInput } of candidates) {
      const existing = steps.get(definition.name) ?? disabled.find((s) => s.name === definition.name);
      if (existing) {
        throw new StepwiseError(ErrorCode.StepDuplicate, `Step ${definition.name} is defined twice: by ${existing.pluginId} and by ${plugin?.id ?? BUILTIN_ID}.`, {
          hint: "remove one of the plugins from stepwise.yaml, or rename the service",
        });
      }
      const settings = site.steps[definition.name];
      const stepConfig = { ...(foundation ? target?.definition.config : undefined), ...definition.config };
      const connectionConfig = Object.keys(stepConfig).filter((key) => stepConfig[key]?.connection === true);
      const siteStep: SiteStep = {
        name: definition.name,
        description: definition.description,
        pluginId: plugin?.id ?? BUILTIN_ID,
        pluginName: plugin?.name ?? CORE_PACKAGE,
        definition,
        dependsOn: [...new Set([...(definition.dependsOn ?? []), ...(settings?.dependsOn ?? []), ...(foundation ? [] : foundationNames)])],
        inputs: {
          files: [...(definition.inputs?.files ?? [])],
          config: [...new Set([...(definition.inputs?.config ?? []), ...Object.keys(stepConfig)])].filter((key) => !connectionConfig.includes(key)).sort(),
          secrets: [...new Set([...(definition.inputs?.secrets ?? []), ...Object.keys(definition.secrets ?? {})])].sort(),
        },
        foundation,
        ...(connectionConfig.length ? { connectionConfig } : {}),
        ...(siteInput ? { siteInput } : {}),
      };
      if (settings?.enabled === false) {
        if (definition.required !== false) {
          throw errors.siteInvalid(site.locate(["steps", definition.name, "enabled"]), `step ${definition.name} is required and cannot be disabled`, `remove steps.${definition.name}.enabled`);
        }
        disabled.push(siteStep);
      } else {
        steps.set(definition.name, siteStep);
      }
    }
    for (const name of Object.keys(site.steps)) {
      if (!steps.has(name) && !disabled.some((s) => s.name === name)) throw errors.stepUnknown(name, `steps: in ${path.basename(site.file)}`, [...steps.keys()]);
    }
    for (const step of steps.values()) {
      for (const dep of step.dependsOn) {
        const off = disabled.find((s) => s.name === dep);
        if (off) {
          throw new StepwiseError(ErrorCode.StepUnknown, `Step ${step.name} depends on ${dep}, which is disabled in stepwise.yaml.`, {
            step: step.name,
            hint: `enable ${dep} (remove steps.${dep}.enabled: false) or stop depending on it`,
          });
        }
      }
    }
    const graph = buildStepGraph([...steps.values()]);

    const ownedConfig: OwnedConfigKey[] = [];
    const ownedSecrets: OwnedSecret[] = [];
    for (const step of steps.values()) {
      for (const [key, spec] of Object.entries(step.definition.config ?? {})) ownedConfig.push({ key, spec, owner: step.name });
      for (const [name, spec] of Object.entries(step.definition.secrets ?? {})) ownedSecrets.push({ name, spec, owner: step.name });
    }
    if (target) for (const [key, spec] of Object.entries(target.definition.config ?? {})) ownedConfig.push({ key, spec, owner: `target ${target.definition.name}` });
    const config = resolveConfig({ owned: ownedConfig, preset: site.preset, file: site.config, env: options.env ?? process.env, sets: options.sets ?? [] });
    const unset = unsetReferences([...steps.values()], ownedConfig, config);
    if (unset) siteProblems.push(unset);
    const allTargets = plugins.flatMap((p) => (p.definition.targets ?? []).map((t) => ({ target: t, plugin: p.name })));
    siteProblems.push(...unrealisableKinds(steps.values(), target?.definition, allTargets, config));
    const unknown = unknownConfigKeys([...steps.values()], ownedConfig, site, options.sets ?? []);
    if (unknown) siteProblems.push(unknown);

    const ctx = { siteDir: site.dir, siteName: site.name, warn: (message: string) => emit({ type: "warning", message }) };
    const stateBackend = await createBackend("state", site.state.backend, site.state.options, plugins, ctx);
    const secretBackend = await createBackend("secrets", site.secrets.backend, site.secrets.options, plugins, ctx);
    const fileHashes = new FileHashCache(site.dir, cachePath(site.dir, FILE_IDS));
    self = new SiteSession(site, plugins, steps, disabled, graph, config, ownedConfig, ownedSecrets, target, stateBackend, secretBackend, fileHashes, emit, siteProblems);
    trace("session open");
    return self;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Aborts running steps (SIGINT/SIGTERM). */
  interrupt(reason = "interrupted"): void {
    if (!this.abort.signal.aborted) this.abort.abort(new StepwiseError(ErrorCode.Interrupted, reason, { exitCode: 130 }));
  }

  /**
   * Takes the site lock (the state backend's lock) for `operation`. Every command that writes
   * the site's state, secrets or config holds it while it reads what it changes and writes it
   * back, so no write is lost. Secrets this command already read are read again under it;
   * temp files that killed writers left are removed. A `brief` lock (one quick edit) is waited
   * for by others; a refusal (exit 3) names the holder.
   */
  async lockSite(operation: string, options: { brief?: boolean; ttlMs?: number } = {}): Promise<StateLock> {
    const lock = await this.stateBackend.lock(currentHolder(operation, options), options.ttlMs ?? SITE_LOCK_TTL_MS);
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
    if (first !== undefined) throw secretTooShort(first);
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
      return Promise.reject(
        new StepwiseError(ErrorCode.TargetMissing, "This site has no target.", { hint: "add a target plugin to stepwise.yaml, e.g. @stepwise/target-podman, and target: podman" }),
      );
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

  /**
   * Attributes an error from a plugin call (Rollup's `logPluginError`): a StepwiseError keeps
   * its code and gains the plugin, step and hook it lacks (a target's error raised inside a
   * step's `ensure` already names the target); anything else becomes `PLUGIN_ERROR` naming
   * the plugin and hook, with the original kept for its stack. Every field is redacted.
   */
  wrapPluginError(error: unknown, plugin: string, step: string | undefined, hook?: string): StepwiseError {
    const redact = (text: string) => this.redactor.redact(text);
    if (isStepwiseError(error)) {
      const redacted = redactError(error, redact);
      redacted.plugin ??= plugin;
      redacted.step ??= step;
      redacted.hook ??= hook;
      return redacted;
    }
    return errors.pluginError(error, plugin, step, redact, hook);
  }
}

function chooseTarget(site: SiteFile, plugins: LoadedPlugin[]): { definition: TargetDefinition; plugin: LoadedPlugin } | undefined {
  const all = plugins.flatMap((plugin) => (plugin.definition.targets ?? []).map((definition) => ({ definition, plugin })));
  if (site.target) {
    const found = all.find((t) => t.definition.name === site.target);
    if (!found) {
      throw new StepwiseError(ErrorCode.TargetMissing, `${site.locate(["target"])}: target "${site.target}" is not provided by any listed plugin${all.length ? ` (available: ${all.map((t) => t.definition.name).join(", ")})` : ""}.`, {
        location: site.locate(["target"]),
        hint: `add its plugin, e.g. npm install @stepwise/target-${site.target} and list it under plugins:`,
      });
    }
    return found;
  }
  if (all.length > 1) {
    throw new StepwiseError(ErrorCode.TargetMissing, `${path.basename(site.file)}: several targets are available (${all.map((t) => t.definition.name).join(", ")}); choose one.`, {
      hint: `add target: ${all[0]!.definition.name} to stepwise.yaml`,
    });
  }
  return all[0];
}

async function createBackend<K extends "state" | "secrets">(
  kind: K,
  name: string,
  options: import("../contracts.js").JsonObject,
  plugins: LoadedPlugin[],
  ctx: import("../contracts.js").BackendContext,
): Promise<K extends "state" ? StateBackend : SecretBackend> {
  type R = K extends "state" ? StateBackend : SecretBackend;
  if (kind === "state" && name === "file") return createFileStateBackend(options, ctx) as R;
  if (kind === "secrets" && name === "age") return createAgeSecretBackend(options, ctx) as R;
  for (const plugin of plugins) {
    const factories = kind === "state" ? plugin.definition.stateBackends : plugin.definition.secretBackends;
    const factory = factories?.[name];
    if (factory) {
      try {
        return (await factory(options, ctx)) as R;
      } catch (error) {
        if (isStepwiseError(error)) throw error;
        throw new StepwiseError(ErrorCode.PluginError, `${kind} backend ${name} of ${plugin.id} failed to start: ${(error as Error).message}`, {
          plugin: plugin.id,
          hint: `check ${kind}.options in stepwise.yaml`,
        });
      }
    }
  }
  throw new StepwiseError(
    kind === "state" ? ErrorCode.StateBackendUnknown : ErrorCode.SecretBackendUnknown,
    `${kind}.backend "${name}" is not built in (${kind === "state" ? "file" : "age"}) and no listed plugin provides it.`,
    { hint: name === "azblob" ? "npm install @stepwise/target-azure and list it under plugins:" : `list the plugin that provides the ${name} backend under plugins:` },
  );
}

/**
 * `${config.KEY}` references of site-defined steps (services, jobs, templates) to keys that
 * no step owns and nothing sets: most likely typos, which would otherwise render as "".
 */
function unsetReferences(steps: readonly SiteStep[], owned: readonly OwnedConfigKey[], config: ResolvedConfig): StepwiseError | undefined {
  const ownedKeys = new Set(owned.map((o) => o.key));
  const known = [...new Set([...ownedKeys, ...config.keys()])];
  const problems: string[] = [];
  for (const step of steps) {
    if (!step.siteInput) continue;
    for (const key of step.inputs.config) {
      if (ownedKeys.has(key) || config.has(key)) continue;
      const close = closestNames(key, known);
      problems.push(`  - ${step.siteInput.key} references \${config.${key}}, which no step owns and nothing sets${close.length ? ` (did you mean ${close.join(" or ")}?)` : ""}`);
    }
  }
  if (problems.length === 0) return undefined;
  return new StepwiseError(ErrorCode.ConfigMissing, `stepwise.yaml references config that is not set:\n${problems.join("\n")}`, {
    hint: "set each key under config: in stepwise.yaml (or with --set KEY=VALUE), or fix the reference",
  });
}

/**
 * Keys set in stepwise.yaml or with `--set` under a namespace some step owns (`app.prot` when a
 * step owns `app.port`) that no step owns or reads: typos, which would otherwise be ignored
 * while the step runs with its default. A namespace no step owns is the site's own, free-form
 * (read through `${config.KEY}` in services, jobs and templates); a plugin that reads keys of
 * its namespace beyond those it owns declares them in `inputs.config`.
 */
function unknownConfigKeys(steps: readonly SiteStep[], owned: readonly OwnedConfigKey[], site: SiteFile, sets: readonly string[]): StepwiseError | undefined {
  const namespace = (key: string) => key.split(".")[0]!;
  const ownedNamespaces = new Set(owned.map((o) => namespace(o.key)));
  const known = new Set([...owned.map((o) => o.key), ...steps.flatMap((s) => s.inputs.config)]);
  const ownedKeys = [...new Set(owned.map((o) => o.key))];
  const given: { key: string; source: () => string }[] = [...site.config.entries()].map(([key, located]) => ({ key, source: () => located.location }));
  for (const assignment of sets) {
    const eq = assignment.indexOf("=");
    if (eq > 0) given.push({ key: assignment.slice(0, eq).trim(), source: () => "--set" });
  }
  const unknown = new Map<string, { key: string; source: string; suggestions: string[] }>();
  for (const { key, source } of given) {
    if (known.has(key) || !ownedNamespaces.has(namespace(key)) || unknown.has(key)) continue;
    unknown.set(key, { key, source: source(), suggestions: closestNames(key, ownedKeys) });
  }
  return unknown.size === 0 ? undefined : errors.configUnknown([...unknown.values()]);
}
