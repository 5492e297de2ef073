import type { JsonObject } from "../contracts.js";
import { ExitCode, StepwiseError, errorMessage, isStepwiseError, redactError } from "./stepwise-error.js";

/**
 * Every error code core and the CLI raise, alphabetised by code. Stable: scripts may match on
 * them (plugins keep their own codes, e.g. target-podman's `PODMAN_*`). Each has a factory in
 * {@link errors}; raise errors through those, never with `new StepwiseError` elsewhere in core.
 */
export const ErrorCode = {
  /** A backup archive cannot be restored: missing, unreadable, corrupt or of another site. Exit 2. */
  BackupInvalid: "BACKUP_INVALID",
  /** `--expect-no-changes` found steps to run or removals pending. Exit 1. */
  ChangesPending: "CHANGES_PENDING",
  /** A config value is not one its step accepts. Exit 2. */
  ConfigInvalid: "CONFIG_INVALID",
  /** A required config value, or one a `${config.*}` reference needs, is not set. Exit 2. */
  ConfigMissing: "CONFIG_MISSING",
  /** A key set under a step's namespace that no step owns or reads (a likely typo). Exit 2. */
  ConfigUnknown: "CONFIG_UNKNOWN",
  /** A command that destroys or replaces data had nobody to approve it; nothing was changed. Exit 2. */
  ConfirmationRequired: "CONFIRMATION_REQUIRED",
  /** SIGINT/SIGTERM stopped the run; state was saved and the next run resumes. Exit 130. */
  Interrupted: "INTERRUPTED",
  /** State was written by a newer version of an installed plugin; running its steps would downgrade them. Exit 2. */
  PluginDowngrade: "PLUGIN_DOWNGRADE",
  /** A plugin's own error (not a StepwiseError) from one of its hooks: a bug or an unhandled case. Exit 1; 2 when a state or secrets backend fails to start. */
  PluginError: "PLUGIN_ERROR",
  /** A plugin needs a `@stepwise/core` range this core does not satisfy. Exit 2. */
  PluginIncompatible: "PLUGIN_INCOMPATIBLE",
  /** `plugins add` ran the site's package manager and it failed; stepwise.yaml was not changed. Exit 2. */
  PluginInstallFailed: "PLUGIN_INSTALL_FAILED",
  /** A plugin does not load, rejects its options, is listed twice, or is not a stepwise plugin. Exit 2. */
  PluginInvalid: "PLUGIN_INVALID",
  /** A plugin listed in stepwise.yaml is not installed next to the site. Exit 2. */
  PluginMissing: "PLUGIN_MISSING",
  /** `deploy` would remove what left the site and nobody approved it; nothing was changed. Exit 2. */
  RemovalNotApproved: "REMOVAL_NOT_APPROVED",
  /** `secrets.backend` names a backend neither core nor a listed plugin provides. Exit 2. */
  SecretBackendUnknown: "SECRET_BACKEND_UNKNOWN",
  /** The age identity is not one (mistyped, damaged) or its file cannot be read. Exit 2. */
  SecretIdentityInvalid: "SECRET_IDENTITY_INVALID",
  /** A secret a step or template needs is not set. Exit 2. */
  SecretMissing: "SECRET_MISSING",
  /** The secrets file cannot be decrypted or is malformed; it was left as it is. Exit 2. */
  SecretStoreUnreadable: "SECRET_STORE_UNREADABLE",
  /** A secret value too short to redact from output, so it is not stored. Exit 2. */
  SecretTooShort: "SECRET_TOO_SHORT",
  /** `secrets verify` found secrets that would stop a deploy or could not be redacted. Exit 2. */
  SecretsNotVerified: "SECRETS_NOT_VERIFIED",
  /** stepwise.yaml (or a file the site names) is unreadable or breaks its schema or rules. Exit 2. */
  SiteInvalid: "SITE_INVALID",
  /** No stepwise.yaml in the site directory. Exit 2. */
  SiteNotFound: "SITE_NOT_FOUND",
  /** stepwise.yaml has a `schemaVersion` newer than this stepwise reads. Exit 2. */
  SiteVersionUnsupported: "SITE_VERSION_UNSUPPORTED",
  /** `state.backend` names a backend neither core nor a listed plugin provides. Exit 2. */
  StateBackendUnknown: "STATE_BACKEND_UNKNOWN",
  /** The state was changed by someone else during this run; it was not overwritten. Exit 2. */
  StateConflict: "STATE_CONFLICT",
  /** The state document is unreadable (not JSON, wrong shape, failed checksum). Exit 2. */
  StateCorrupt: "STATE_CORRUPT",
  /** The state lock is held by a run that is gone, or is not a lock file. Exit 2. */
  StateLockStale: "STATE_LOCK_STALE",
  /** The state lock is held by another live run, or was taken from this one. Exit 3. */
  StateLocked: "STATE_LOCKED",
  /** The state was moved to another backend by `state migrate`; this copy is no longer used. Exit 2. */
  StateMigrated: "STATE_MIGRATED",
  /** A command that needs a state document found none (`state pull`). Exit 2. */
  StateMissing: "STATE_MISSING",
  /** `state push` refused a document of another history; nothing was changed. Exit 2. */
  StatePushRefused: "STATE_PUSH_REFUSED",
  /** The state has a format version newer than this stepwise reads. Exit 2. */
  StateTooNew: "STATE_TOO_NEW",
  /** A kept earlier state document (`state restore N`) does not exist, or the backend keeps none. Exit 2. */
  StateVersionUnknown: "STATE_VERSION_UNKNOWN",
  /** Steps depend on each other in a cycle. Exit 2. */
  StepCycle: "STEP_CYCLE",
  /** A step depends on a step disabled in stepwise.yaml. Exit 2. */
  StepDisabledDependency: "STEP_DISABLED_DEPENDENCY",
  /** Two plugins (or a plugin and the site) define a step of the same name. Exit 2. */
  StepDuplicate: "STEP_DUPLICATE",
  /** A step read the outputs of an upstream step that has not completed. Exit 2. */
  StepOutputsMissing: "STEP_OUTPUTS_MISSING",
  /** A step name (in `dependsOn`, `steps:` or an `${outputs.*}` reference) that no step has. Exit 2. */
  StepUnknown: "STEP_UNKNOWN",
  /** The site names no target, one no listed plugin provides, or several are available and none is chosen. Exit 2. */
  TargetMissing: "TARGET_MISSING",
  /** The target could not be connected to. Exit 2. */
  TargetUnreachable: "TARGET_UNREACHABLE",
  /** The target lacks what was asked of it: a resource kind, removal, volume export or import, a day-2 command. Exit 2. */
  TargetUnsupported: "TARGET_UNSUPPORTED",
  /** A file stepwise rendered from a template was changed by hand; it was not overwritten. Exit 1. */
  TemplateOutputChanged: "TEMPLATE_OUTPUT_CHANGED",
  /** The template folder is of a version newer than this stepwise renders. Exit 2. */
  TemplateTooNew: "TEMPLATE_TOO_NEW",
  /** A step read a config key, secret, file, output or resource kind it did not declare. Exit 2. */
  UndeclaredInput: "UNDECLARED_INPUT",
  /** Bad command-line usage. Exit 2. */
  Usage: "USAGE",
} as const;

/**
 * One factory per error core and the CLI raise (Rollup's `logs.ts`), alphabetised. A message
 * says what failed and where; the hint is the command (or action) that fixes it.
 */
export const errors = {
  /** `state.backend`/`secrets.backend` `name` of a listed plugin threw while it started. */
  backendFailedToStart(kind: "state" | "secrets", name: string, plugin: string, error: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.PluginError, `${kind} backend ${name} of ${plugin} failed to start: ${errorMessage(error)}`, {
      plugin,
      hint: `check ${kind}.options in stepwise.yaml`,
    });
  },
  /** `state.backend`/`secrets.backend` names a backend neither core nor a listed plugin provides. */
  backendUnknown(kind: "state" | "secrets", name: string): StepwiseError {
    return new StepwiseError(
      kind === "state" ? ErrorCode.StateBackendUnknown : ErrorCode.SecretBackendUnknown,
      `${kind}.backend "${name}" is not built in (${kind === "state" ? "file" : "age"}) and no listed plugin provides it.`,
      { hint: name === "azblob" ? "npm install -D @stepwise/state-azblob and list \"@stepwise/state-azblob\" under plugins:" : `list the plugin that provides the ${name} backend under plugins:` },
    );
  },
  /** The backup archive `file` was refused before anything was restored. */
  backupInvalid(file: string, problem: string, site: string): StepwiseError {
    return new StepwiseError(ErrorCode.BackupInvalid, `Backup ${file} was not restored: ${problem}. Nothing was changed.`, {
      location: file,
      hint: `stepwise backup list   (pick an archive of site ${site})`,
    });
  },
  /** `--expect-no-changes` refused: `pending` summarises, `changes` lists what would happen. */
  changesPending(pending: string, changes: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.ChangesPending, `--expect-no-changes: ${pending} (${changes.join(", ")}).`, {
      exitCode: ExitCode.StepFailed,
      hint: "stepwise plan   (to see why)",
    });
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
  configMissing(keys: readonly { key: string; owner: string; description: string }[]): StepwiseError {
    const lines = keys.map((k) => `  - ${k.key} (${k.owner}): ${k.description}`).join("\n");
    return new StepwiseError(ErrorCode.ConfigMissing, `${keys.length} required config value${keys.length === 1 ? " is" : "s are"} not set:\n${lines}`, {
      hint: `stepwise configure   (or non-interactively: stepwise deploy ${keys.map((k) => `--set ${k.key}=...`).join(" ")})`,
      details: { keys: keys.map((k) => k.key) },
    });
  },
  /** `configure` without a terminal: each line is a missing config value or secret with the command that sets it. */
  configMissingNoTerminal(lines: readonly string[], config: readonly string[], secrets: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.ConfigMissing, `${lines.length} required value${lines.length === 1 ? " is" : "s are"} missing (no terminal, so nothing was asked):\n${lines.join("\n")}`, {
      hint: "set each one as shown, or run stepwise configure in a terminal",
      details: { config, secrets },
    });
  },
  /** `${config.KEY}` references in stepwise.yaml to keys nothing sets; each problem line names one. */
  configReferencesUnset(problems: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.ConfigMissing, `stepwise.yaml references config that is not set:\n${problems.join("\n")}`, {
      hint: "set each key under config: in stepwise.yaml (or with --set KEY=VALUE), or fix the reference",
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
  /** A step's own check of config key `key` failed with `message` (plugin-kit's `invalidConfig`). */
  configValueInvalid(key: string, message: string): StepwiseError {
    return new StepwiseError(ErrorCode.ConfigInvalid, message, { hint: `stepwise configure   (or set ${key} in stepwise.yaml)`, details: { key } });
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
  /** The reason the run was aborted with (SIGINT/SIGTERM). */
  interrupted(reason: string): StepwiseError {
    return new StepwiseError(ErrorCode.Interrupted, reason, { exitCode: ExitCode.Interrupted });
  },
  /** `${outputs.STEP.KEY}` in `where` (a stepwise.yaml location or a template file) names no step. */
  outputsOfUnknownStep(where: string, reference: string, location: string, known: Iterable<string>): StepwiseError {
    return new StepwiseError(ErrorCode.StepUnknown, `${where} references outputs of an unknown step: ${reference}.`, {
      location,
      hint: `use \${outputs.STEP.KEY} with one of: ${[...known].sort().join(", ")}`,
    });
  },
  /** State records steps run by newer versions of installed plugins (`downgrades`, one per plugin). */
  pluginDowngrade(downgrades: readonly { plugin: string; recorded: string; installed: string; steps: readonly string[] }[]): StepwiseError {
    const lines = downgrades.map((d) => `  - ${d.plugin}: state was written by ${d.recorded}, ${d.installed} is installed (steps ${d.steps.join(", ")})`);
    const install = downgrades.map((d) => `${d.plugin}@${d.recorded}`).join(" ");
    return new StepwiseError(
      ErrorCode.PluginDowngrade,
      `State was written by newer plugin versions than the site has installed; running their steps would undo what the newer versions made:\n${lines.join("\n")}`,
      {
        plugin: `${downgrades[0]!.plugin}@${downgrades[0]!.installed}`,
        hint: `npm install ${install}   (the versions that wrote the state), or re-run with --allow-plugin-downgrade to run those steps with the installed versions`,
        details: { downgrades: downgrades.map((d) => ({ plugin: d.plugin, recorded: d.recorded, installed: d.installed, steps: [...d.steps] })) },
      },
    );
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
  /**
   * Plugin `name` declares a core `range` the running core does not satisfy. `skew` says which
   * side is behind (semver decides it where the range is checked, not here, to keep this module
   * free of it): a plugin that needs a newer core is fixed by upgrading stepwise, one that needs an
   * older core by upgrading the plugin (or pinning core); a range with a hole names both.
   */
  pluginIncompatible(name: string, version: string, root: string, range: string, coreVersion: string, skew?: "needs-newer-core" | "needs-older-core"): StepwiseError {
    const upgradeCore = `npm install @stepwise/cli@latest   (or @stepwise/core@"${range}")`;
    const upgradePlugin = `npm install ${name}@latest   (a version of the plugin for @stepwise/core ${coreVersion}; or pin @stepwise/core@"${range}")`;
    const behind = skew === "needs-newer-core" ? "; this stepwise is older than the plugin needs" : skew === "needs-older-core" ? "; the plugin is older than this stepwise" : "";
    return new StepwiseError(
      ErrorCode.PluginIncompatible,
      `Plugin ${name}@${version} (${root}) needs @stepwise/core ${range}, but this stepwise runs @stepwise/core ${coreVersion}${behind}.`,
      {
        plugin: `${name}@${version}`,
        location: root,
        hint: skew === "needs-newer-core" ? upgradeCore : skew === "needs-older-core" ? upgradePlugin : `${upgradePlugin}, or ${upgradeCore}`,
        details: { range, coreVersion, ...(skew ? { skew } : {}) },
      },
    );
  },
  /** `command` (the site's package manager adding `spec`, run in `siteDir`) exited with `exit`. */
  pluginInstallFailed(spec: string, command: readonly string[], exit: number | string, siteDir: string): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInstallFailed, `Installing ${spec} failed: \`${command.join(" ")}\` ${typeof exit === "number" ? `exited with ${exit}` : `could not start (${exit})`} (its output is above); stepwise.yaml was not changed.`, {
      plugin: spec,
      location: siteDir,
      hint: `fix what ${command[0]} reports (a misspelt name, no network, no ${command[0]} on PATH), then: stepwise plugins add ${spec}`,
    });
  },
  pluginInvalid(name: string, root: string, problem: string, hint?: string): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `Plugin ${name} (${root}) is not a stepwise plugin: ${problem}`, {
      plugin: name,
      location: root,
      hint: hint ?? `check that ${name} default-exports definePlugin({...}) from @stepwise/core`,
    });
  },
  /** Plugin `name` appears twice under `plugins:`. */
  pluginListedTwice(name: string, plugin: string): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `Plugin ${name} is listed twice in stepwise.yaml.`, { plugin, hint: "remove one of the entries" });
  },
  /** Importing plugin `plugin` (`name@version`) from `entryFile` threw; `specifier` is how stepwise.yaml lists it. */
  pluginLoadFailed(plugin: string, root: string, entryFile: string, siteDir: string, specifier: string, error: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `Plugin ${plugin} (${root}) failed to load: ${errorMessage(error)}`, {
      plugin,
      location: entryFile,
      hint: `reinstall it: cd ${siteDir} && npm install ${specifier}`,
      cause: error,
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
  /** The factory plugin `plugin` (`name@version`) exports threw on the options stepwise.yaml gives it. */
  pluginOptionsRejected(plugin: string, specifier: string, error: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `Plugin ${plugin} rejected its options: ${errorMessage(error)}`, {
      plugin,
      hint: `check plugins: - name: ${specifier} options: in stepwise.yaml`,
    });
  },
  /** Several plugins failed to load; each line names one and its fix. */
  pluginsNotLoaded(lines: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.PluginInvalid, `${lines.length} plugins could not be loaded:\n${lines.join("\n")}`, {
      hint: "fix each plugin above, then run: stepwise plugins list",
    });
  },
  /** A service's or job's port, after its references were resolved, is not `HOST:CONTAINER` or `CONTAINER`. */
  portInvalid(text: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `port "${text}" is not HOST:CONTAINER or CONTAINER`, { hint: 'write ports like "8080:3000"' });
  },
  removalNotApproved(removals: readonly { name: string; reason: string; volumes: readonly string[] }[]): StepwiseError {
    const lines = removals.map((r) => `  - ${r.name}: ${r.reason}${r.volumes.length ? `; deletes volume ${r.volumes.join(", ")} and its data` : ""}`).join("\n");
    return new StepwiseError(ErrorCode.RemovalNotApproved, `deploy would remove ${removals.length === 1 ? "1 thing" : `${removals.length} things`} that left the site, and nobody approved it (no terminal to ask); nothing was changed:\n${lines}`, {
      hint: "stepwise plan   (to review), then: stepwise deploy --auto-approve",
      details: { removals: removals.map((r) => r.name) },
    });
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
  /** The age identity from `source` (the variable `envVar` or the file `identityFile`) is not an identity; never quotes it. */
  secretIdentityInvalid(source: string, envVar: string, identityFile: string): StepwiseError {
    return new StepwiseError(ErrorCode.SecretIdentityInvalid, `The age identity from ${source} is not a valid AGE-SECRET-KEY-1... line (mistyped or damaged).`, {
      location: source,
      hint: source === envVar ? `set ${envVar} to the whole identity line, exactly as it was made` : `restore ${identityFile} from where you keep its copy (mode 0600), or set ${envVar}`,
    });
  },
  /** The age identity file exists but cannot be read (`reason`: an errno code). */
  secretIdentityUnreadable(identityFile: string, reason: string, envVar: string): StepwiseError {
    return new StepwiseError(ErrorCode.SecretIdentityInvalid, `The age identity file ${identityFile} cannot be read (${reason}).`, {
      location: identityFile,
      hint: `restore ${identityFile} as a file (mode 0600), or set ${envVar}`,
    });
  },
  secretMissing(names: readonly { name: string; usedBy: string }[]): StepwiseError {
    const list = names.map((n) => `  - ${n.name} (used by ${n.usedBy}): stepwise secrets set ${n.name}`).join("\n");
    return new StepwiseError(ErrorCode.SecretMissing, `${names.length} required secret${names.length === 1 ? " is" : "s are"} not set:\n${list}`, {
      hint: names.length === 1 ? `stepwise secrets set ${names[0]!.name}` : "stepwise configure   (or the command next to each secret above)",
      details: { secrets: names.map((n) => n.name) },
    });
  },
  /** `secrets.options.recipients` holds something that is not an age recipient; nothing was written. */
  secretRecipientInvalid(recipient: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `secrets.options.recipients: ${JSON.stringify(recipient)} is not an age recipient (age1...); nothing was written.`, {
      hint: "fix or remove it under secrets.options.recipients in stepwise.yaml",
    });
  },
  /** The secrets file `file` exists but no age identity was found to decrypt it. */
  secretStoreNoIdentity(file: string, envVar: string, identityFile: string): StepwiseError {
    return new StepwiseError(ErrorCode.SecretStoreUnreadable, `Secrets ${file} exist but no age identity was found to decrypt them.`, {
      location: file,
      hint: `set ${envVar}=AGE-SECRET-KEY-1... or restore ${identityFile} (mode 0600)`,
    });
  },
  /** The secrets file `file` cannot be decrypted or is malformed (`problem`); it was left as it is. */
  secretStoreUnreadable(file: string, problem: string, hint: string): StepwiseError {
    return new StepwiseError(ErrorCode.SecretStoreUnreadable, `Secrets ${file} ${problem}; it was left as it is.`, { location: file, hint });
  },
  /** A secret value shorter than `minLength`: too short to redact, so it is not stored. */
  secretTooShort(name: string, minLength: number): StepwiseError {
    return new StepwiseError(ErrorCode.SecretTooShort, `Secret ${name} is shorter than ${minLength} characters: too short to hide from logs and output, so stepwise does not store it.`, {
      hint: `set a longer value: printf '%s' "$VALUE" | stepwise secrets set ${name}`,
      details: { secret: name, minLength },
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
  siteInvalid(location: string, message: string, hint?: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `${location}: ${message}`, { location, hint });
  },
  /** `key` cannot be saved into `siteFile`: `where` (its parent) is not a mapping. */
  siteKeyNotSaved(siteFile: string, key: string, where: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `Cannot save ${key}: ${where} in ${siteFile} is not a mapping.`, {
      location: siteFile,
      hint: `edit ${siteFile} by hand: set ${key}`,
    });
  },
  siteNotFound(dir: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteNotFound, `No stepwise.yaml in ${dir}.`, {
      hint: "stepwise init   (or pass --site DIR)",
      location: dir,
    });
  },
  /** Several problems of one site as one error: the first's code, hint and location, every message with its fix. */
  siteProblems(problems: readonly [StepwiseError, ...StepwiseError[]]): StepwiseError {
    const [first] = problems;
    return new StepwiseError(first.code, problems.map((p) => `${p.message}${p.hint ? `\n    fix: ${p.hint}` : ""}`).join("\n"), { hint: first.hint, location: first.location });
  },
  /** stepwise.yaml (`file`, shown as `rel`) breaks its schema; each line names a key, `location` is the first's. */
  siteSchemaInvalid(rel: string, lines: readonly string[], location: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `${rel} does not match the stepwise.yaml schema:\n${lines.join("\n")}`, {
      location,
      hint: `fix the keys above in ${rel} (schema: node_modules/@stepwise/core/schema/stepwise.schema.json)`,
    });
  },
  siteUnreadable(file: string, error: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `Cannot read ${file}: ${errorMessage(error)}`, { location: file });
  },
  /** stepwise.yaml's `schemaVersion` (at `location`) is newer than `supported`. */
  siteVersionUnsupported(location: string, found: string, supported: string, problem: string): StepwiseError {
    return new StepwiseError(
      ErrorCode.SiteVersionUnsupported,
      `${location}: stepwise.yaml has schemaVersion ${found}, but this stepwise reads site files up to ${supported} (${problem}).`,
      { location, hint: "upgrade stepwise: npm install -D @stepwise/cli@latest" },
    );
  },
  /** A compare-and-swap write lost: `writer` names who wrote since, when the backend knows. */
  stateConflict(location: string, writer?: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateConflict, `State ${location} was changed by ${writer ?? "someone else"} during this run; refusing to overwrite it. Nothing was written.`, {
      location,
      exitCode: ExitCode.BadInput,
      hint: "run the command again; if this repeats, check that nobody runs stepwise with `state unlock` against a live run",
    });
  },
  stateCorrupt(location: string, problem: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateCorrupt, `State ${location} is unreadable: ${problem}.`, {
      location,
      hint: "restore it from a backup (stepwise backup restore), or start over with: stepwise deploy --reset-state",
    });
  },
  /** The lock this run held was removed or taken by someone else while it ran (`state unlock` against a live run). */
  stateLockBroken(location: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateLocked, `The state lock ${location} was broken by someone else during this run.`, {
      exitCode: ExitCode.Locked,
      location,
      hint: "check who ran `stepwise state unlock`; then run again",
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
  /** Something other than a lock file (a directory, a socket) stands where the lock goes: no run can hold it, none may remove it. */
  stateLockNotAFile(location: string, what: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateLockStale, `The state lock ${location} is ${what}, not a lock file; no stepwise run made it. Nothing was changed.`, {
      exitCode: ExitCode.BadInput,
      location,
      hint: `look at it, then remove it: rm -r ${location}`,
    });
  },
  /** The lock is held by a stale holder (`holder` describes it) that cannot be proven gone: `reason` says why it counts as stale. */
  stateLockStale(location: string, holder: string, reason: string, details: JsonObject): StepwiseError {
    return new StepwiseError(ErrorCode.StateLockStale, `State lock ${location} is stale: held by ${holder}, but ${reason}. Nothing was changed.`, {
      location,
      hint: "make sure that run is really gone, then: stepwise state unlock",
      details,
    });
  },
  /** A live run (`holder` describes it) holds the lock. A lock is taken before anything is written, so nothing was changed. */
  stateLocked(location: string, holder: string, details: JsonObject): StepwiseError {
    return new StepwiseError(ErrorCode.StateLocked, `State is locked by ${holder}. Nothing was changed.`, {
      exitCode: ExitCode.Locked,
      location,
      hint: "wait for that run to finish; if it is gone, run: stepwise state unlock",
      details,
    });
  },
  /** The state at `location` was moved by `state migrate` to `to`; `setting` is what stepwise.yaml needs. */
  stateMigrated(location: string, to: string, setting: string): StepwiseError {
    return new StepwiseError(ErrorCode.StateMigrated, `State ${location} was migrated to ${to}; this copy is no longer used and nothing was changed.`, {
      location,
      exitCode: ExitCode.BadInput,
      hint: `point stepwise.yaml at the new state: ${setting}`,
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
  /** The document given to `state push` is not state: `unreadable` is the STATE_CORRUPT error reading it raised. */
  statePushCorrupt(unreadable: StepwiseError): StepwiseError {
    return new StepwiseError(ErrorCode.StateCorrupt, unreadable.message, { location: unreadable.location, hint: "push a document written by stepwise state pull (-o FILE)" });
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
  stateTooNew(location: string, found: number, supported: number): StepwiseError {
    return new StepwiseError(
      ErrorCode.StateTooNew,
      `State ${location} has format version ${found}, written by a newer stepwise; this stepwise reads up to version ${supported}.`,
      { location, hint: "upgrade stepwise: npm install -D @stepwise/cli@latest" },
    );
  },
  /** `state restore N` named no kept version (`count` are kept). */
  stateVersionUnknown(backend: string, wanted: string, count: number): StepwiseError {
    return new StepwiseError(ErrorCode.StateVersionUnknown, `${backend} keeps no earlier state ${wanted} (${count} kept).`, {
      location: backend,
      hint: "stepwise state history   (lists the kept versions and their numbers)",
    });
  },
  stepCycle(cycle: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.StepCycle, `Steps depend on each other in a cycle: ${cycle.join(" -> ")}.`, {
      hint: "remove one of these dependsOn entries",
      details: { cycle },
    });
  },
  /** Step `step` depends on `dependency`, which stepwise.yaml disables. */
  stepDependsOnDisabled(step: string, dependency: string): StepwiseError {
    return new StepwiseError(ErrorCode.StepDisabledDependency, `Step ${step} depends on ${dependency}, which is disabled in stepwise.yaml.`, {
      step,
      hint: `enable ${dependency} (remove steps.${dependency}.enabled: false) or stop depending on it`,
    });
  },
  /** Step `name` is defined by both `first` and `second` (plugin ids, or core's). */
  stepDuplicate(name: string, first: string, second: string): StepwiseError {
    return new StepwiseError(ErrorCode.StepDuplicate, `Step ${name} is defined twice: by ${first} and by ${second}.`, {
      hint: "remove one of the plugins from stepwise.yaml, or rename the service",
    });
  },
  /** Step `step` was stopped by SIGINT/SIGTERM (`reason`, the abort's) while it ran or was being removed. */
  stepInterrupted(step: string, reason: unknown, plugin?: string): StepwiseError {
    return new StepwiseError(ErrorCode.Interrupted, `interrupted: ${errorMessage(reason)}`, { exitCode: ExitCode.Interrupted, step, plugin });
  },
  /** Step `step` read `ctx.outputs(upstream)` before `upstream` completed. */
  stepOutputsMissing(step: string, upstream: string): StepwiseError {
    return new StepwiseError(ErrorCode.StepOutputsMissing, `Step ${step} needs outputs of ${upstream}, which has not completed.`, {
      step,
      hint: "stepwise deploy",
    });
  },
  stepUnknown(name: string, referencedBy: string, known: readonly string[]): StepwiseError {
    const close = closestNames(name, known);
    return new StepwiseError(ErrorCode.StepUnknown, `Unknown step "${name}" (referenced by ${referencedBy}).`, {
      step: referencedBy,
      hint: close.length ? `did you mean ${close.map((c) => `"${c}"`).join(" or ")}? known steps: stepwise plan` : "list the steps with: stepwise plan",
      details: { known },
    });
  },
  /** Several plugins provide a target and stepwise.yaml (`file`) chooses none. */
  targetAmbiguous(file: string, available: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.TargetMissing, `${file}: several targets are available (${available.join(", ")}); choose one.`, {
      hint: `add target: ${available[0]} to stepwise.yaml`,
    });
  },
  /** The site has no target; `asked` is the step and resource kind that needed one, if a step did. */
  targetMissing(asked?: { step: string; kind: string }): StepwiseError {
    return new StepwiseError(ErrorCode.TargetMissing, asked ? `Step ${asked.step} asks for a ${asked.kind} resource, but the site has no target.` : "This site has no target.", {
      step: asked?.step,
      hint: "add a target plugin to stepwise.yaml, e.g. plugins: [@stepwise/target-podman] and target: podman",
    });
  },
  /** `target:` (at `location`) names a target no listed plugin provides. */
  targetNotProvided(location: string, target: string, available: readonly string[]): StepwiseError {
    return new StepwiseError(ErrorCode.TargetMissing, `${location}: target "${target}" is not provided by any listed plugin${available.length ? ` (available: ${available.join(", ")})` : ""}.`, {
      location,
      hint: `add its plugin, e.g. npm install @stepwise/target-${target} and list it under plugins:`,
    });
  },
  /** Connecting to target `target` for step `step` failed with a plain error (`cause`). */
  targetUnreachable(target: string, step: string, cause: unknown): StepwiseError {
    return new StepwiseError(ErrorCode.TargetUnreachable, `Cannot connect to target ${target}: ${errorMessage(cause)}`, {
      step,
      hint: `check the ${target} target's settings, then: stepwise plan`,
      cause,
    });
  },
  /** Target `target` lacks an operation: `problem` completes "Target NAME ..."; `step` is the step it was for, if any. */
  targetUnsupported(target: string | undefined, problem: string, hint: string, step?: string): StepwiseError {
    return new StepwiseError(ErrorCode.TargetUnsupported, `Target ${target} ${problem}`, { step, hint });
  },
  /** `file` (under the output folder) differs from what stepwise rendered from `source`; it was not overwritten. */
  templateOutputChanged(file: string, source: string): StepwiseError {
    return new StepwiseError(ErrorCode.TemplateOutputChanged, `${file} was changed by hand since stepwise rendered it; it was not overwritten.`, {
      exitCode: ExitCode.StepFailed,
      location: file,
      hint: `move the change into ${source} (or delete ${file}), then: stepwise deploy`,
    });
  },
  /** Template `file` references secret `name`, which is not set. */
  templateSecretMissing(file: string, name: string): StepwiseError {
    return new StepwiseError(ErrorCode.SecretMissing, `${file} needs secret ${name}, which is not set.`, { hint: `stepwise secrets set ${name}` });
  },
  /** The templates in `folder` are of `version`, which this core (`coreVersion`) does not render (`problem`). */
  templateTooNew(folder: string, versionFile: string, version: string, coreVersion: string, problem: string): StepwiseError {
    return new StepwiseError(ErrorCode.TemplateTooNew, `Templates in ${folder} are version ${version}, but this stepwise (${coreVersion}) renders templates up to ${coreVersion.split(".").slice(0, 2).join(".")}.x (${problem}).`, {
      location: `${folder}/${versionFile}`,
      hint: "upgrade stepwise (npm install -D @stepwise/cli@latest), or use templates of a version this stepwise reads",
    });
  },
  /** The template folder `folder` (named at `location` in stepwise.yaml) lacks its version file. */
  templateVersionMissing(folder: string, versionFile: string, location: string, coreVersion: string): StepwiseError {
    return new StepwiseError(ErrorCode.SiteInvalid, `Template folder ${folder} has no ${versionFile}.`, {
      location,
      hint: `echo ${coreVersion} > ${folder}/${versionFile}`,
    });
  },
  undeclaredInput(step: string, plugin: string, kind: string, name: string): StepwiseError {
    return new StepwiseError(
      ErrorCode.UndeclaredInput,
      `Step ${step} read ${kind} "${name}" without declaring it in inputs.${kind === "output of step" ? "" : kind}; an undeclared input would be missing from its fingerprint.`,
      { step, plugin, hint: `add "${name}" to the inputs of step ${step} in ${plugin}` },
    );
  },
  usage(message: string, hint?: string): StepwiseError {
    return new StepwiseError(ErrorCode.Usage, message, { hint });
  },
};

/**
 * Attributes an error from a plugin call (Rollup's `logPluginError`): a StepwiseError keeps
 * its code and gains the plugin, step and hook it lacks (a target's error raised inside a
 * step's `ensure` already names the target); anything else becomes `PLUGIN_ERROR` naming
 * the plugin and hook, with the original kept for its stack. Every field is redacted.
 */
export function attributePluginError(error: unknown, plugin: string, step: string | undefined, redact: (text: string) => string, hook?: string): StepwiseError {
  if (isStepwiseError(error)) {
    const redacted = redactError(error, redact);
    redacted.plugin ??= plugin;
    redacted.step ??= step;
    redacted.hook ??= hook;
    return redacted;
  }
  return errors.pluginError(error, plugin, step, redact, hook);
}

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
