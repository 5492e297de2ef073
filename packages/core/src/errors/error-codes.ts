import { ExitCode, StepwiseError, errorMessage } from "./stepwise-error.js";

/** Every error code stepwise raises. Stable: scripts may match on them. */
export const ErrorCode = {
  SiteNotFound: "SITE_NOT_FOUND",
  SiteInvalid: "SITE_INVALID",
  SiteVersionUnsupported: "SITE_VERSION_UNSUPPORTED",
  ConfigInvalid: "CONFIG_INVALID",
  ConfigMissing: "CONFIG_MISSING",
  ConfigUnknown: "CONFIG_UNKNOWN",
  PluginMissing: "PLUGIN_MISSING",
  PluginInvalid: "PLUGIN_INVALID",
  PluginIncompatible: "PLUGIN_INCOMPATIBLE",
  PluginError: "PLUGIN_ERROR",
  StepUnknown: "STEP_UNKNOWN",
  StepDuplicate: "STEP_DUPLICATE",
  StepCycle: "STEP_CYCLE",
  StepFailed: "STEP_FAILED",
  UndeclaredInput: "UNDECLARED_INPUT",
  TargetMissing: "TARGET_MISSING",
  TargetUnsupported: "TARGET_UNSUPPORTED",
  StateCorrupt: "STATE_CORRUPT",
  StateTooNew: "STATE_TOO_NEW",
  StateConflict: "STATE_CONFLICT",
  StateMissing: "STATE_MISSING",
  StatePushRefused: "STATE_PUSH_REFUSED",
  StateLocked: "STATE_LOCKED",
  StateLockStale: "STATE_LOCK_STALE",
  StateBackendUnknown: "STATE_BACKEND_UNKNOWN",
  SecretMissing: "SECRET_MISSING",
  SecretBackendUnknown: "SECRET_BACKEND_UNKNOWN",
  SecretStoreUnreadable: "SECRET_STORE_UNREADABLE",
  SecretIdentityInvalid: "SECRET_IDENTITY_INVALID",
  SecretTooShort: "SECRET_TOO_SHORT",
  SecretsNotVerified: "SECRETS_NOT_VERIFIED",
  TemplateTooNew: "TEMPLATE_TOO_NEW",
  Usage: "USAGE",
  Interrupted: "INTERRUPTED",
  ChangesPending: "CHANGES_PENDING",
  RemovalNotApproved: "REMOVAL_NOT_APPROVED",
  ConfirmationRequired: "CONFIRMATION_REQUIRED",
} as const;

export const errors = {
  siteNotFound(dir: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteNotFound, `No stepwise.yaml in ${dir}.`, {
      hint: "stepwise init   (or pass --site DIR)",
      location: dir,
    });
  },
  siteInvalid(location: string, message: string, hint?: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `${location}: ${message}`, { location, hint });
  },
  configInvalid(key: string, source: string, message: string): StepwiseError {
    return new StepwiseError(ErrorCode.ConfigInvalid, `config ${key} (from ${source}): ${message}`, {
      location: source,
      hint: `stepwise configure   (or fix ${key} in ${source})`,
      details: { key },
    });
  },
  configInvalidMany(problems: readonly { key: string; source: string; message: string }[]): StepwiseError {
    const lines = problems.map((p) => `  - ${p.key} (from ${p.source}): ${p.message}`).join("\n");
    return new StepwiseError(ErrorCode.ConfigInvalid, `${problems.length} config values are invalid:\n${lines}`, {
      location: problems[0]?.source,
      hint: "stepwise configure   (or fix the values where they are set)",
      details: { keys: problems.map((p) => p.key) },
    });
  },
  /** Config keys under a step's namespace that no step owns or reads: typos, which would be ignored. */
  configUnknown(keys: readonly { key: string; source: string; suggestions: readonly string[] }[]): StepwiseError {
    const lines = keys.map((k) => `  - ${k.key} (from ${k.source}): no step owns or reads it${k.suggestions.length ? `; did you mean ${k.suggestions.join(" or ")}?` : ""}`).join("\n");
    const first = keys[0]!;
    return new StepwiseError(ErrorCode.ConfigUnknown, `${keys.length === 1 ? "A config key is" : `${keys.length} config keys are`} unknown:\n${lines}`, {
      location: first.source,
      hint: first.suggestions.length ? `rename ${first.key} to ${first.suggestions[0]} in ${first.source}` : "stepwise configure --status   (lists the steps and their settings)",
      details: { keys: keys.map((k) => k.key) },
    });
  },
  configMissing(keys: readonly { key: string; owner: string; description: string }[]): StepwiseError {
    const lines = keys.map((k) => `  - ${k.key} (${k.owner}): ${k.description}`).join("\n");
    return new StepwiseError(ErrorCode.ConfigMissing, `${keys.length} required config value${keys.length === 1 ? " is" : "s are"} not set:\n${lines}`, {
      hint: `stepwise configure   (or non-interactively: stepwise deploy ${keys.map((k) => `--set ${k.key}=...`).join(" ")})`,
      details: { keys: keys.map((k) => k.key) },
    });
  },
  pluginMissing(name: string, siteDir: string, cause?: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.PluginMissing, `Plugin ${name} is listed in stepwise.yaml but is not installed next to the site (${siteDir}).`, {
      plugin: name,
      location: siteDir,
      hint: `cd ${siteDir} && npm install ${name}`,
      cause,
    });
  },
  pluginInvalid(name: string, root: string, problem: string): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `Plugin ${name} (${root}) is not a stepwise plugin: ${problem}`, {
      plugin: name,
      location: root,
      hint: `check that ${name} default-exports definePlugin({...}) from @stepwise/core`,
    });
  },
  pluginIncompatible(name: string, version: string, root: string, range: string, coreVersion: string): StepwiseError {
    return new StepwiseError(
      ErrorCode.PluginIncompatible,
      `Plugin ${name}@${version} (${root}) needs @stepwise/core ${range}, but this stepwise runs @stepwise/core ${coreVersion}.`,
      {
        plugin: `${name}@${version}`,
        location: root,
        hint: `npm install ${name}@latest   (or install a stepwise whose core satisfies ${range})`,
        details: { range, coreVersion },
      },
    );
  },
  stepUnknown(name: string, referencedBy: string, known: readonly string[]): StepwiseError {
    const close = closestNames(name, known);
    return new StepwiseError(ErrorCode.StepUnknown, `Unknown step "${name}" (referenced by ${referencedBy}).`, {
      step: referencedBy,
      hint: close.length ? `did you mean ${close.map((c) => `"${c}"`).join(" or ")}? known steps: stepwise plan` : "list the steps with: stepwise plan",
      details: { known },
    });
  },
  stepCycle(cycle: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.StepCycle, `Steps depend on each other in a cycle: ${cycle.join(" -> ")}.`, {
      hint: "remove one of these dependsOn entries",
      details: { cycle },
    });
  },
  undeclaredInput(step: string, plugin: string, kind: string, name: string): StepwiseError {
    return new StepwiseError(
      ErrorCode.UndeclaredInput,
      `Step ${step} read ${kind} "${name}" without declaring it in inputs.${kind === "output of step" ? "" : kind}; an undeclared input would be missing from its fingerprint.`,
      { step, plugin, hint: `add "${name}" to the inputs of step ${step} in ${plugin}` },
    );
  },
  resourceKindUndeclared(step: string, plugin: string, kind: string, declared: readonly string[]): StepwiseError {
    return new StepwiseError(
      ErrorCode.UndeclaredInput,
      `Step ${step} asked its target for a ${kind} resource, but declares only ${declared.length ? declared.join(", ") : "none"} in resources; the plan could not check that the target realises it.`,
      { step, plugin, hint: `add "${kind}" to the resources of step ${step} in ${plugin}` },
    );
  },
  resourceKindUnsupported(step: string, kind: string, target: string, targetKinds: readonly string[], providers: readonly string[]): StepwiseError {
    return new StepwiseError(
      ErrorCode.TargetUnsupported,
      `Step ${step} needs a ${kind} resource, which target ${target} does not realise (it realises ${targetKinds.join(", ") || "nothing"}).`,
      {
        step,
        exitCode: ExitCode.BadInput,
        hint: providers.length
          ? `use a target that realises ${kind} (${providers.join(", ")}) with target: in stepwise.yaml, or configure ${step} not to need it`
          : `no target among the site's plugins realises ${kind}: add one that does, or configure ${step} not to need it (stepwise configure)`,
        details: { kind, target, targetKinds, providers },
      },
    );
  },
  stateCorrupt(location: string, problem: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateCorrupt, `State ${location} is unreadable: ${problem}.`, {
      location,
      hint: "restore it from a backup (stepwise backup restore), or start over with: stepwise deploy --reset-state",
    });
  },
  stateTooNew(location: string, found: number, supported: number): StepwiseError {
    return new StepwiseError(
      ErrorCode.StateTooNew,
      `State ${location} has format version ${found}, written by a newer stepwise; this stepwise reads up to version ${supported}.`,
      { location, hint: "upgrade stepwise: npm install -D @stepwise/cli@latest" },
    );
  },
  stateConflict(location: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateConflict, `State ${location} was changed by someone else during this run; refusing to overwrite it.`, {
      location,
      exitCode: ExitCode.BadInput,
      hint: "run the command again; if this repeats, check that nobody runs stepwise with `state unlock` against a live run",
    });
  },
  /** A command that needs a state document found none (`state pull`). */
  stateMissing(backend: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateMissing, `No state yet in ${backend}; run stepwise deploy.`, {
      location: backend,
      hint: "stepwise deploy",
    });
  },
  /** An object of the state's object store was named by something that is no sha256 hex digest. */
  stateObjectName(hash: string): StepwiseError {
    return errors.stateCorrupt("state objects", `${JSON.stringify(hash.slice(0, 80))} is not the sha256 of an object`);
  },
  /**
   * `state push` refused a document that would replace the state with another history: each
   * problem names the pushed value and the current one. Nothing was changed.
   */
  statePushRefused(file: string, source: string, backend: string, problems: readonly { field: string; message: string }[]): StepwiseError {
    const lines = problems.map((p) => `  - ${p.message}`).join("\n");
    return new StepwiseError(ErrorCode.StatePushRefused, `Refusing to push ${source} to ${backend}; nothing was changed:\n${lines}`, {
      location: source,
      hint: `check that ${source} is this site's latest state (stepwise state pull shows it); to replace the state anyway: stepwise state push ${file} --force`,
      details: { fields: problems.map((p) => p.field) },
    });
  },
  /** Something other than a lock file (a directory, a socket) stands where the lock goes: no run can hold it, none may remove it. */
  stateLockNotAFile(location: string, what: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateLockStale, `The state lock ${location} is ${what}, not a lock file; no stepwise run made it. Nothing was changed.`, {
      exitCode: ExitCode.BadInput,
      location,
      hint: `look at it, then remove it: rm -r ${location}`,
    });
  },
  /** The lock could not be taken within the waiting time: another taker kept winning, or `found` stayed. */
  stateLockBusy(location: string, found: string | undefined): StepwiseError {
    return new StepwiseError(ErrorCode.StateLocked, `Could not take the state lock ${location}${found ? `: found ${found}` : ""}. Nothing was changed.`, {
      exitCode: ExitCode.Locked,
      location,
      hint: "run the command again; if the lock stays, see who holds it: stepwise status",
    });
  },
  secretMissing(names: readonly { name: string; usedBy: string }[]): StepwiseError {
    const list = names.map((n) => `  - ${n.name} (used by ${n.usedBy}): stepwise secrets set ${n.name}`).join("\n");
    return new StepwiseError(ErrorCode.SecretMissing, `${names.length} required secret${names.length === 1 ? " is" : "s are"} not set:\n${list}`, {
      hint: names.length === 1 ? `stepwise secrets set ${names[0]!.name}` : "stepwise configure   (or the command next to each secret above)",
      details: { secrets: names.map((n) => n.name) },
    });
  },
  /** `secrets verify` found secrets that would stop a deploy or could not be redacted; each problem carries its fix. */
  secretsNotVerified(store: string, problems: readonly { name: string; problem: string; fix: string }[]): StepwiseError {
    const lines = problems.map((p) => `  - ${p.name}: ${p.problem}; fix: ${p.fix}`).join("\n");
    return new StepwiseError(ErrorCode.SecretsNotVerified, `${problems.length === 1 ? "1 secret needs" : `${problems.length} secrets need`} attention in ${store}:\n${lines}`, {
      location: store,
      hint: problems.length === 1 ? problems[0]!.fix : "the command next to each secret above",
      details: { problems: problems.map((p) => ({ ...p })) },
    });
  },
  removalNotApproved(removals: readonly { name: string; reason: string; volumes: readonly string[] }[]): StepwiseError {
    const lines = removals.map((r) => `  - ${r.name}: ${r.reason}${r.volumes.length ? `; deletes volume ${r.volumes.join(", ")} and its data` : ""}`).join("\n");
    return new StepwiseError(ErrorCode.RemovalNotApproved, `deploy would remove ${removals.length === 1 ? "1 thing" : `${removals.length} things`} that left the site, and nobody approved it (no terminal to ask); nothing was changed:\n${lines}`, {
      hint: "stepwise plan   (to review), then: stepwise deploy --auto-approve",
      details: { removals: removals.map((r) => r.name) },
    });
  },
  /**
   * A command that destroys or replaces data ran without a terminal to ask in and without
   * `--auto-approve`: nothing was changed; the hint is the same command, approved.
   */
  confirmationRequired(what: string, items: readonly string[], approvedCommand: string): StepwiseError {
    return new StepwiseError(ErrorCode.ConfirmationRequired, `${what}, and nobody approved it (no terminal to ask); nothing was changed:\n${items.map((i) => `  - ${i}`).join("\n")}`, {
      hint: approvedCommand,
    });
  },
  usage(message: string, hint?: string): StepwiseError {
    return new StepwiseError(ErrorCode.Usage, message, { hint });
  },
  /**
   * A plugin's own error (a `TypeError`, a library's error) as a step failure that names the
   * plugin and hook; the original's stack, redacted, is kept as `pluginStack` for `--verbose`
   * and `--json`.
   */
  pluginError(error: unknown, plugin: string, step: string | undefined, redact: (text: string) => string, hook?: string): StepwiseError {
    const kind = error instanceof Error && error.name && error.name !== "Error" ? `${error.name}: ` : "";
    const message = redact(`${kind}${errorMessage(error)} [${plugin}${hook ? `, ${hook}` : ""}]`);
    return new StepwiseError(ErrorCode.PluginError, message, {
      exitCode: ExitCode.StepFailed,
      plugin,
      step,
      hook,
      cause: error,
      pluginStack: error instanceof Error && error.stack ? redact(error.stack) : undefined,
      hint: `a bug or an unhandled case in ${plugin.replace(/@[^@]*$/, "")}: run again with --verbose for its stack, and report it to the plugin's authors`,
      details: error instanceof Error && "code" in error && typeof error.code === "string" ? { cause: redact(error.code) } : undefined,
    });
  },
};

/** Known names within a small edit distance of `name` (typos), closest first. */
export function closestNames(name: string, known: readonly string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return known
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter((c) => c.distance <= limit || c.candidate.includes(name))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((c) => c.candidate);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
