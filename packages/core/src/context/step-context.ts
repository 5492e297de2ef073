import { readFile } from "node:fs/promises";
import path from "node:path";
import type {
  ConfigReader,
  JsonValue,
  PresetName,
  ResourceKind,
  ResourceResult,
  ResourceSpec,
  StepContext,
  StepLogger,
  StepOutputs,
  StepSecrets,
  StepTarget,
  TargetSession,
} from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError, isStepwiseError } from "../errors/stepwise-error.js";
import { declaredResourceKinds } from "../engine/resource-kinds.js";
import { computeInputFingerprint } from "../fingerprint/compute-input-fingerprint.js";
import type { SiteSecrets } from "../secrets/site-secrets.js";

/** A step as the engine sees it: its definition plus everything resolved about it. */
export interface SiteStep {
  name: string;
  description: string;
  /** `name@version` of the plugin (or `@stepwise/core@x` for services and jobs). */
  pluginId: string;
  pluginName: string;
  definition: import("../contracts.js").StepDefinition;
  dependsOn: string[];
  inputs: { files: string[]; config: string[]; secrets: string[] };
  /** Connection keys (`ConfigKeySpec.connection`) the step may read: never inputs, never hashed. */
  connectionConfig?: string[];
  /** A target's foundation step (every other step depends on these). */
  foundation: boolean;
  /**
   * For steps defined by the site itself (services, jobs, templates): their literal
   * definition in stepwise.yaml, an input like any other (entry `site:<yaml path>`).
   */
  siteInput?: { key: string; value: import("../contracts.js").JsonValue };
}

export interface StepContextDeps {
  site: { name: string; dir: string; preset: PresetName };
  step: SiteStep;
  config: ConfigReader;
  secrets: SiteSecrets;
  /** The step's selected files with their hashes. */
  files: ReadonlyMap<string, string>;
  upstreamOutputs: (step: string) => StepOutputs | undefined;
  previousOutputs: StepOutputs | undefined;
  target:
    | {
        name: string;
        /** `name@version` of the target's plugin. */
        plugin: string;
        kinds?: readonly ResourceKind[];
        session: () => Promise<TargetSession>;
        /** Names the target plugin (and the hook) on an error a target call raised. */
        attribute: (error: unknown, hook: string) => StepwiseError;
      }
    | undefined;
  signal: AbortSignal;
  log: StepLogger;
  /** Told of every resource `ctx.target.ensure` realised (the engine records them for removal). */
  onEnsured?: (result: ResourceResult) => void;
}

/**
 * Builds what `run`/`check` see. Every accessor checks the step's declared inputs and throws
 * `UNDECLARED_INPUT` (naming plugin, step and input) for anything else, so a fingerprint can
 * never miss something a step read.
 */
export function createStepContext(deps: StepContextDeps): StepContext {
  const { step } = deps;
  const declaredConfig = new Set([...step.inputs.config, ...(step.connectionConfig ?? [])]);
  const declaredSecrets = new Set(step.inputs.secrets);
  const declaredSteps = new Set(step.dependsOn);
  const undeclared = (kind: string, name: string) => errors.undeclaredInput(step.name, step.pluginId, kind, name);

  const config: ConfigReader = {
    get<T extends JsonValue = JsonValue>(key: string): T | undefined {
      if (!declaredConfig.has(key)) throw undeclared("config", key);
      return deps.config.get<T>(key);
    },
  };
  const secrets: StepSecrets = {
    get(name) {
      if (!declaredSecrets.has(name)) throw undeclared("secrets", name);
      return deps.secrets.get(name);
    },
    fingerprint(name) {
      if (!declaredSecrets.has(name)) throw undeclared("secrets", name);
      const fp = deps.secrets.fingerprint(name);
      return fp === "unset" ? undefined : fp;
    },
  };
  const fileList = [...deps.files.keys()];
  const files = {
    list: () => fileList,
    async read(file: string) {
      const normalized = path.posix.normalize(file.replace(/\\/g, "/")).replace(/^\.\//, "");
      if (!deps.files.has(normalized)) throw undeclared("files", file);
      return readFile(path.join(deps.site.dir, normalized));
    },
    resolve(file: string) {
      const normalized = path.posix.normalize(file.replace(/\\/g, "/")).replace(/^\.\//, "");
      if (!deps.files.has(normalized)) throw undeclared("files", file);
      return path.join(deps.site.dir, normalized);
    },
    digest: () => computeInputFingerprint(Object.fromEntries(deps.files)),
  };
  const scope = { step: step.name, secrets, signal: deps.signal, log: deps.log };
  const declaredKinds = declaredResourceKinds(step.definition, deps.config);
  const target: StepTarget = {
    name: deps.target?.name ?? "(none)",
    async ensure<S extends ResourceSpec>(spec: S): Promise<ResourceResult<S["kind"]>> {
      // Refused before the target is called: the plan checked only the declared kinds.
      if (declaredKinds && !declaredKinds.includes(spec.kind)) throw errors.resourceKindUndeclared(step.name, step.pluginId, spec.kind, declaredKinds);
      const kinds = deps.target?.kinds;
      if (deps.target && kinds && !kinds.includes(spec.kind)) throw errors.resourceKindUnsupported(step.name, spec.kind, deps.target.name, kinds, []);
      const session = await requireTarget(deps, spec.kind);
      // The target answers for the kind it was asked for (TargetSession.ensure's contract).
      const result = (await attributed(deps, `ensure ${spec.kind} ${spec.name}`, () => session.ensure(spec, scope))) as ResourceResult<S["kind"]>;
      deps.onEnsured?.(result);
      return result;
    },
    async probe(result: ResourceResult) {
      const session = await requireTarget(deps, result.kind);
      return attributed(deps, `probe ${result.kind} ${result.name}`, () => session.probe(result, scope));
    },
  };
  return {
    site: deps.site,
    step: step.name,
    config,
    secrets,
    files,
    outputs(name: string) {
      if (!declaredSteps.has(name)) throw undeclared("output of step", name);
      const outputs = deps.upstreamOutputs(name);
      if (!outputs) {
        throw errors.stepOutputsMissing(step.name, name);
      }
      return outputs;
    },
    previousOutputs: deps.previousOutputs,
    target,
    signal: deps.signal,
    log: deps.log,
  };
}

/** Runs a target call; its error names the target's plugin, not the step's (aborts pass through). */
async function attributed<T>(deps: StepContextDeps, hook: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!deps.target || (error instanceof Error && error.name === "AbortError") || deps.signal.aborted) throw error;
    throw deps.target.attribute(error, hook);
  }
}

async function requireTarget(deps: StepContextDeps, kind: string): Promise<TargetSession> {
  if (!deps.target) {
    throw errors.targetMissing({ step: deps.step.name, kind });
  }
  try {
    return await deps.target.session();
  } catch (error) {
    if (isStepwiseError(error)) throw error;
    throw errors.targetUnreachable(deps.target.name, deps.step.name, error);
  }
}
