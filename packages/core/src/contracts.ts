/**
 * The contracts between stepwise's engine and its plugins.
 *
 * A plugin is a plain object (see {@link PluginDefinition}) made with `definePlugin`.
 * Everything a plugin hands the engine is data plus async functions; the engine owns
 * ordering, hashing, state, locking, secrets and redaction.
 */

/** JSON-compatible value: what config values and step outputs may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The three built-in presets; a preset picks per-key values before the site file is applied. */
export type PresetName = "default" | "dev-mode" | "airgapped";
export const PRESETS: readonly PresetName[] = ["default", "dev-mode", "airgapped"];

// ---------------------------------------------------------------------------------------------
// Config and secrets that steps own
// ---------------------------------------------------------------------------------------------

/**
 * One configuration key a step (or target) owns, by its dot path (`email.smtp.port`).
 * Resolution order, lowest first: `default` < `presets[preset]` < `stepwise.yaml` `config:`
 * < environment (`env`, or `STEPWISE_CONFIG_<KEY>`) < `--set key=value`.
 */
export interface ConfigKeySpec {
  /** One line shown by `configure` and in errors. */
  description: string;
  /** Value type; values from the environment and `--set` are coerced to it. Default `string`. */
  type?: "string" | "number" | "integer" | "boolean" | "string[]";
  /** Value when neither preset, file, environment nor `--set` gives one. */
  default?: JsonValue;
  /** Value per preset; overrides `default`. */
  presets?: Partial<Record<PresetName, JsonValue>>;
  /** Allowed values. */
  choices?: readonly JsonValue[];
  /** Question asked by `stepwise configure`; keys without a prompt are never asked. */
  prompt?: string;
  /** A value must exist before `deploy` (after defaults and presets). Default `false`. */
  required?: boolean;
  /** Environment variable read for this key (e.g. `MAIL_PROVIDER`). */
  env?: string;
  /**
   * How a target or backend is *reached* (a socket path, an endpoint, a credential), not
   * *what* is deployed. A connection key is never an input: it enters no fingerprint, so the
   * same site planned from another shell (another socket path to the same engine) is still
   * unchanged. Steps of the plugin that owns it may read it with `ctx.config.get` without
   * declaring it. Identify *which* engine or account is targeted by something the target
   * reports (an id), recorded in outputs and compared by `check`. Default `false`.
   */
  connection?: boolean;
  /**
   * On a target's key: the resource kind whose realisation it shapes (the size of a Redis cache),
   * not the target's foundation. Such a key is an input of every step that asks for that kind
   * (a `resources` list naming it, a `resources` function returning it under the site's config,
   * or no `resources` at all: such a step may ask for anything) and of no foundation step, so a
   * change re-runs those steps and nothing else; `plan` names the key. Without it, a target's
   * key is an input of every foundation step. Ignored on a step's own keys and on connection keys.
   */
  resourceKind?: ResourceKind;
  /**
   * Extra validation. Return a message saying what is wrong, or `undefined` when the value
   * is fine. Called with the coerced value; must not throw and must not do I/O.
   */
  validate?: (value: JsonValue, config: ConfigReader) => string | undefined;
  /**
   * Ask only when this returns true (e.g. SMTP host only when provider is smtp). Keys whose
   * `when` is false are neither asked nor required.
   */
  when?: (config: ConfigReader) => boolean;
}

/** How a generated secret is made. Generated once with a CSPRNG; changed only by `secrets rotate`. */
export interface SecretGenerator {
  /** Characters. Default 32. */
  length?: number;
  /** `alnum` (default), `hex`, `base64url`, or a literal string of allowed characters. */
  alphabet?: "alnum" | "hex" | "base64url" | (string & {});
}

/** One secret a step owns, by its global name (`db_password`). */
export interface SecretSpec {
  description: string;
  /** Present for generated secrets; absent for user-provided ones. */
  generate?: SecretGenerator;
  /**
   * User-provided secrets only: deploy refuses to start while a required secret is missing.
   * Optional ones may be skipped in `configure` and filled later. Default `true`.
   */
  required?: boolean;
  /** Question asked by `stepwise configure` for user-provided secrets. */
  prompt?: string;
  /** Ask only when this returns true (e.g. the SMTP password only when provider is smtp). */
  when?: (config: ConfigReader) => boolean;
}

export interface ConfigReader {
  /** The resolved value of `key`, or `undefined` when nothing sets it. */
  get<T extends JsonValue = JsonValue>(key: string): T | undefined;
}

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

/** What a step's fingerprint covers. Anything a step reads must be declared here. */
export interface StepInputs {
  /** Globs relative to the site directory (`app/**`, `!app/node_modules/**`). */
  files?: readonly string[];
  /** Config dot paths. The keys a step owns are added automatically. */
  config?: readonly string[];
  /** Secret names. The secrets a step owns are added automatically. */
  secrets?: readonly string[];
}

/** Outputs a step returns: non-secret JSON that dependants read and that is hashed. */
export type StepOutputs = JsonObject;

/** A change in the world found by {@link StepDefinition.check}. */
export interface DriftReport {
  /** What drifted, for the plan (`container stepwise-demo-web is gone`). */
  reason: string;
}

export interface StepLogger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Progress of long work (shown live in a TTY, as plain lines otherwise). */
  progress(message: string): void;
}

/** What `run` and `check` see. Reading anything outside the step's inputs throws. */
export interface StepContext {
  readonly site: { readonly name: string; readonly dir: string; readonly preset: PresetName };
  /** This step's name. */
  readonly step: string;
  readonly config: ConfigReader;
  readonly secrets: StepSecrets;
  readonly files: StepFiles;
  /** Outputs of a step this one `dependsOn`. Throws for any other step. */
  outputs(step: string): StepOutputs;
  /** Outputs this step returned on its last successful run, if any. */
  readonly previousOutputs: StepOutputs | undefined;
  /** The site's target, scoped to this step. Throws when the site has no target. */
  readonly target: StepTarget;
  /** Aborted on SIGINT/SIGTERM. Long work must pass it on or check it. */
  readonly signal: AbortSignal;
  /** The step's logger; it redacts every known secret value. */
  readonly log: StepLogger;
}

export interface StepSecrets {
  /** The value of a declared secret, or `undefined` when it is not set (optional secrets). */
  get(name: string): string | undefined;
  /** An HMAC of a declared secret's value: changes when the value does, reveals nothing. */
  fingerprint(name: string): string | undefined;
}

export interface StepFiles {
  /** Declared files (relative paths, sorted) matched by the step's globs. */
  list(): readonly string[];
  /** Contents of a declared file. */
  read(path: string): Promise<Buffer>;
  /** Absolute path of a declared file, for handing to tools. */
  resolve(path: string): string;
  /** One sha256 over the declared files' paths and contents (e.g. to tag a built image). */
  digest(): string;
}

/**
 * A unit of work. Contract:
 * - `run` is idempotent: running it again with the same inputs changes nothing in the world.
 * - If `run` throws, nothing it did is recorded as completed: the error is saved in state
 *   and the step runs again next time.
 * - `run` reads only what `inputs` declares (enforced by {@link StepContext}).
 */
export interface StepDefinition {
  /** Unique within a site; namespaced when it could clash (`podman:network`). */
  name: string;
  description: string;
  /**
   * A required step always runs as part of the site. A non-required step can be turned off
   * with `steps: { NAME: { enabled: false } }`; the plan then says it is disabled. Default `true`.
   */
  required?: boolean;
  /** Steps that must complete first; their outputs become inputs of this step. */
  dependsOn?: readonly string[];
  inputs?: StepInputs;
  /** Config keys this step owns, by dot path. */
  config?: Readonly<Record<string, ConfigKeySpec>>;
  /** Secrets this step owns, by name. */
  secrets?: Readonly<Record<string, SecretSpec>>;
  /**
   * The kinds of resource `run` asks `ctx.target` for: a list, or a function of the resolved
   * config when it depends on settings (`redis` only when enabled). Declared kinds are
   * checked at plan time against the target's {@link TargetDefinition.kinds}: a site whose
   * target lacks one is refused before anything runs, naming the step, the kind and the
   * targets that realise it. Once declared, `ctx.target.ensure` of an undeclared kind throws
   * `UNDECLARED_INPUT`. Absent: the step does not say, and a kind its target lacks fails only
   * when `run` asks for it. The function must not throw or do I/O.
   */
  resources?: readonly ResourceKind[] | ((config: ConfigReader) => readonly ResourceKind[]);
  /**
   * Cheap existence probe, run by `plan` for steps that would otherwise be skipped.
   * Return a {@link DriftReport} when what the last run made is gone or changed; return
   * nothing when all is in place. Must not change anything. If it throws, the plan
   * reports the error and runs the step.
   */
  check?(ctx: StepContext): Promise<DriftReport | void>;
  /** Does the work. Returns non-secret outputs for dependants (hashed into their fingerprints). */
  run(ctx: StepContext): Promise<StepOutputs | void>;
}

// ---------------------------------------------------------------------------------------------
// Targets and the resources they realise
// ---------------------------------------------------------------------------------------------

/**
 * A secret passed by reference (its name in the site's secret store): the target fetches the
 * value and hands it to the platform; outputs, state and logs only ever hold the name.
 */
export type SecretRef = { secret: string };

/** Build an image from a context directory (relative to the site). */
export interface BuildSpec {
  context: string;
  /** Containerfile/Dockerfile path relative to `context`. Default `Containerfile`, then `Dockerfile`. */
  file?: string;
  /** Build arguments (`ARG` in the Containerfile). Part of the image's identity. */
  args?: Readonly<Record<string, string>>;
  /** Hash of the context's files, computed by the engine; the target derives the tag from it. */
  contextHash?: string;
}

export interface HealthCheckSpec {
  /** Command run inside the container (argument array, no shell). */
  command?: readonly string[];
  /** HTTP path probed from the host on the first published port, e.g. `/healthz`. */
  http?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  retries?: number;
}

export interface PortSpec {
  /** Port on the host (loopback-bound by default on local targets). */
  host?: number;
  container: number;
}

export interface ServiceResource {
  kind: "service";
  name: string;
  image?: string;
  build?: BuildSpec;
  command?: readonly string[];
  /** Plain environment (non-secret). */
  env?: Readonly<Record<string, string>>;
  /** Secrets exposed to the container: env var name -> secret name. */
  secrets?: Readonly<Record<string, string>>;
  ports?: readonly PortSpec[];
  healthcheck?: HealthCheckSpec;
  /** `always` (default), `on-failure`, `no`. */
  restart?: "always" | "on-failure" | "no";
  /** Named volumes: volume name -> mount path. */
  volumes?: Readonly<Record<string, string>>;
}

export interface JobResource extends Omit<ServiceResource, "kind" | "ports" | "healthcheck" | "restart"> {
  kind: "job";
  /** Seconds before the job is stopped and reported as failed. Default 600. */
  timeoutSeconds?: number;
}

export interface PostgresResource {
  kind: "postgres";
  name: string;
  /** Major version, e.g. `16`. */
  version?: string;
  image?: string;
  /** Databases to create, each owned by `user`. */
  databases: readonly string[];
  user: string;
  /** Secret holding `user`'s password. */
  passwordSecret: string;
}

export interface RedisResource {
  kind: "redis";
  name: string;
  image?: string;
  passwordSecret?: string;
}

export interface ObjectStoreResource {
  kind: "objectStore";
  name: string;
  buckets: readonly string[];
  accessKeySecret: string;
  secretKeySecret: string;
}

export interface SecretResource {
  kind: "secret";
  /** Name of the secret in the site's secret store. */
  name: string;
}

export type ResourceSpec = ServiceResource | JobResource | PostgresResource | RedisResource | ObjectStoreResource | SecretResource;
export type ResourceKind = ResourceSpec["kind"];

/**
 * What every target returns in `outputs` for each kind: how dependants reach the resource.
 * A target may add facts of its own (a container name, an ARM id, a volume); steps read only
 * these, so a step works unchanged on every target.
 */
export interface ResourceOutputs {
  /** `host`: the name other services of the site reach it by; `ports`: what was published on the host, if any. */
  service: JsonObject & { host: string; ports?: { container: number; host: number; hostIp?: string }[] };
  /** A job ran to completion (exit code 0): `ensure` throws for any other outcome. */
  job: JsonObject & { exitCode: number };
  /** `databases` exist and are owned by `user`, whose password is the referenced secret. */
  postgres: JsonObject & { host: string; port: number; user: string; databases: string[]; password: SecretRef };
  redis: JsonObject & { host: string; port: number; password?: SecretRef };
  /** An S3-compatible endpoint; the buckets exist; the keys are the spec's secrets. */
  objectStore: JsonObject & { endpoint: string };
  /** The secret is in the platform's store (a Podman secret, a Key Vault secret). */
  secret: JsonObject & { secret: SecretRef };
}

/**
 * What the engine records about each resource a step's `ensure` calls realised (in
 * {@link StepRecord.resources}): enough for the target to find and remove it later.
 */
export interface ResourceRef {
  kind: ResourceKind;
  name: string;
  /** Target-specific id (container name, ARM resource id). */
  id: string;
  /** Named data volumes of the resource; deleted only with `RemoveOptions.volumes`. */
  volumes?: readonly string[];
}

/** One object a target finds labelled for the site (see {@link TargetSession.inventory}). */
export interface TargetInventoryEntry extends ResourceRef {
  /** The step whose `ensure` made it, when the target labelled it so. */
  step?: string;
}

export interface RemoveOptions {
  /** Also delete the resource's named data volumes (`--prune-volumes`): their data is gone. */
  volumes: boolean;
}

/** What a removal did, as lines a person reads (`container stepwise-demo-worker`). */
export interface RemoveResult {
  removed: string[];
  /** What was deliberately left (`volume stepwise-demo-postgres-data (data kept)`). */
  kept: string[];
}

/** What a target's session gets for a removal: the step whose record is being removed. */
export interface TargetRemoveScope {
  /** The removed step (`service:worker`), or `kind:name` for an object no step owns. */
  step: string;
  signal: AbortSignal;
  log: StepLogger;
}

/**
 * What realising a resource gives back: non-secret connection facts (host, port, database
 * names) and secret *references*, never secret values. Becomes part of step outputs (record
 * it with `resourceRecord` so `check` can probe it). Narrowed by `kind`.
 */
export type ResourceResult<K extends ResourceKind = ResourceKind> = K extends ResourceKind
  ? {
      kind: K;
      name: string;
      /** Target-specific id of what was made (container name, ARM resource id). */
      id: string;
      /** Hash of the spec the target realised; equal hashes mean nothing to do. */
      specHash: string;
      /** `created`, `replaced`, or `unchanged` (no write happened). */
      change: "created" | "replaced" | "unchanged";
      outputs: ResourceOutputs[K];
      /**
       * Named volumes holding the resource's data (target-specific names, e.g. Postgres's data
       * volume). The engine records them, so a later removal can say what data would be lost and
       * delete them only when asked (`--prune-volumes`), even after the resource itself is gone.
       */
      volumes?: readonly string[];
    }
  : never;

/**
 * A step's view of the site's target (`ctx.target`). It differs from {@link TargetSession} on
 * purpose: the engine binds each call to the calling step (its declared secrets, signal and
 * logger, the kinds it declared) and names the target's plugin on any error, so a step can
 * neither pass another step's scope nor read a secret it did not declare. The target is
 * connected on the first call (`connect`, once per command), not before.
 */
export interface StepTarget {
  /** The target's name (`podman`, `azure`). */
  readonly name: string;
  /**
   * Makes the resource exist as specified. Idempotent: an unchanged spec changes nothing
   * (`change: "unchanged"`, no write). Throws when it cannot; whatever it had made by then is
   * labelled so the next call converges without duplicates. Refused before the target is
   * called when the kind is not one the step declared (`resources`) or the target realises.
   */
  ensure<S extends ResourceSpec>(spec: S): Promise<ResourceResult<S["kind"]>>;
  /** Drift probe for a resource an earlier `ensure` made; changes nothing. */
  probe(result: ResourceResult): Promise<DriftReport | void>;
}

/** What a target's session gets for each call, scoped to the calling step. */
export interface TargetCallScope {
  step: string;
  secrets: StepSecrets;
  signal: AbortSignal;
  log: StepLogger;
}

/** The status of one service or resource, for `stepwise status`. */
export interface ServiceStatus {
  name: string;
  kind: ResourceKind;
  state: string;
  health?: string;
  image?: string;
  startedAt?: string;
  ports?: readonly string[];
}

/**
 * A live connection to a target, opened lazily once per command by `connect` and shared by
 * every step (so calls run concurrently: steps of the DAG at once, and `check`s during plan).
 * Day-2 members are optional; the CLI reports a target that lacks one.
 */
export interface TargetSession {
  /**
   * Realises `spec` for the step named in `scope`, reading only the secrets `scope` allows.
   * Idempotent and labelled with the site and a spec hash; must return the kind's
   * {@link ResourceOutputs}. On failure: throws (a `StepwiseError` with a hint where the cause
   * is known; exit code 2 for a host or input problem no retry fixes); what it made stays
   * labelled, and the next call converges from there.
   */
  ensure(spec: ResourceSpec, scope: TargetCallScope): Promise<ResourceResult>;
  /**
   * Drift probe, run during `plan` (concurrently) for steps that would otherwise be skipped.
   * Returns a report when the resource is gone or differs from `result`; changes nothing.
   */
  probe(result: ResourceResult, scope: TargetCallScope): Promise<DriftReport | void>;
  status?(): Promise<ServiceStatus[]>;
  restart?(service?: string): Promise<string[]>;
  logs?(service: string, options: { follow: boolean; tail?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream>;
  /** Remove what the site made; volumes too when asked. */
  down?(options: { volumes: boolean }): Promise<string[]>;
  /**
   * What `down` with the same options would remove and which of it holds data, found without
   * changing anything. The CLI shows it and asks before a `down` that loses data (the person
   * types the site name, or passes `--auto-approve`). A target without it is asked about as
   * if `down --volumes` lost data and a plain `down` lost none.
   */
  describeDown?(options: { volumes: boolean }): Promise<DownPreview>;
  /**
   * Everything the target finds labelled for this site that a step's `ensure` made (not its
   * foundation: networks, helpers), with the step when it was labelled with one. Read-only.
   * `plan` (unless `--no-refresh`) compares it with the site's steps to find objects no step
   * owns any more, e.g. after state was lost. A target without it is planned from state alone.
   */
  inventory?(options: { signal: AbortSignal }): Promise<TargetInventoryEntry[]>;
  /**
   * Removes a resource that left the site (its step is gone from `stepwise.yaml`, its plugin
   * from `plugins:`, or it is disabled). Called by `deploy` after the remaining steps
   * succeeded and the user approved the removal. Guarantees (Pulumi's `ResourceProvider.delete`):
   * - Idempotent: removing what is already gone (or was never made) is success.
   * - If it throws, the resource is assumed to still exist: the engine keeps the step's state
   *   record, so the next `plan` lists the removal again and the next `deploy` retries it.
   * - The engine drops a step's state record only after `remove` succeeded for every resource
   *   recorded for it; a run killed mid-removal leaves the record, and the next run converges.
   * - `ref.volumes` (data) are deleted only with `options.volumes`; otherwise they are left in
   *   place and reported in `kept`. Anything shared with a resource that stays (a volume, a
   *   platform secret another container uses) is kept.
   */
  remove?(ref: ResourceRef, options: RemoveOptions, scope: TargetRemoveScope): Promise<RemoveResult>;
  /** Stream the data of the site's volumes as tar archives, by volume name. */
  exportVolumes?(directory: string): Promise<string[]>;
  importVolumes?(directory: string): Promise<string[]>;
  close?(): Promise<void>;
}

export interface TargetConnectContext {
  readonly site: { readonly name: string; readonly dir: string; readonly preset: PresetName };
  /** The resolved config keys the target owns. */
  readonly config: ConfigReader;
  /** Read any secret of the site (targets copy secrets into the platform's store). */
  readonly secrets: { get(name: string): string | undefined; fingerprint(name: string): string | undefined };
  readonly log: StepLogger;
  readonly signal: AbortSignal;
}

/** What `down` would remove ({@link TargetSession.describeDown}). */
export interface DownPreview {
  /** Everything it would remove, named as `down` names it in its result (`container NAME`, ...). */
  removes: string[];
  /**
   * What holds data that would be gone afterwards (volumes, a whole resource group), with its
   * size in bytes when the target knows it. Empty: nothing is lost that `deploy` cannot make again.
   */
  data: { name: string; bytes?: number }[];
}

/** A place a site is deployed to (`podman`, `azure`). A site picks one with `target:`. */
export interface TargetDefinition {
  name: string;
  description: string;
  /** Config keys the target owns (socket path, region ...). */
  config?: Readonly<Record<string, ConfigKeySpec>>;
  /**
   * The resource kinds `ensure` realises. A step that declares a kind not listed here
   * ({@link StepDefinition.resources}) is refused at plan time, and `ensure` of an unlisted
   * kind is refused before the target is called. Absent: the target does not say, and
   * `ensure` itself must refuse a kind it cannot realise.
   */
  kinds?: readonly ResourceKind[];
  /** Foundation steps (network, resource group ...), namespaced `NAME:...`. */
  steps?: readonly StepDefinition[];
  /**
   * Connects, lazily and once per command: called the first time a step touches `ctx.target`
   * (a step's `run`, or a `probe` during plan), never for a plan whose steps need no target.
   * Throws a clear error when unreachable (exit 2, naming the setting and the fix). Load heavy
   * SDKs here, not at module load.
   */
  connect(ctx: TargetConnectContext): Promise<TargetSession>;
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/** One recorded step, as stored in state. Never holds a secret value. */
export interface StepRecord {
  status: "succeeded" | "failed" | "running";
  /** Combined sha256 over the sorted input entries (files included); absent while running for the first time. */
  fingerprint?: string;
  /** Input entries other than files (`config:key`, `secret:name`, `step:name`, `plugin:name`, `site:key`) -> hash. */
  entries?: Record<string, string>;
  /**
   * The content address of the step's file listing (its `file:path` entries): the sha256 (hex)
   * of the listing's encoded bytes, one `<content id> <path>\n` line per file in path order (a
   * backslash or newline in a path escaped as `\\` or `\n`), stored as an object of the state
   * backend ({@link StateBackend.putObject}). Absent when the step has no files. Only explains
   * which files changed: the fingerprint decides.
   */
  filesRef?: string;
  /**
   * The listing itself, inline: in a portable document only (`state pull`, a backup's
   * state.json, a migrated format-2 state). Saving moves it into the object store.
   */
  files?: string;
  /** Non-secret config values the step read, to show old -> new in plans. */
  config?: JsonObject;
  outputs?: StepOutputs;
  outputsHash?: string;
  /**
   * Every resource the step's `ensure` calls realised, kept across runs (a failed run adds
   * what it made before failing). What `deploy` removes when the step leaves the site.
   */
  resources?: ResourceRef[];
  /** `name@version` of the plugin that defines the step. */
  plugin: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  error?: { code: string; message: string };
}

export interface StateDocument {
  /** Format version of this document. */
  stateVersion: number;
  /** Increments on every write. */
  serial: number;
  /** Random id fixed when the state is first written; a state of another lineage is refused on push. */
  lineage: string;
  site: string;
  /** Version of the stepwise that wrote it. */
  writtenBy: string;
  updatedAt: string;
  steps: Record<string, StepRecord>;
  /**
   * Set on the old copy by `state migrate`: where the state lives now (`azblob://ACCOUNT/CONTAINER/BLOB`,
   * `file PATH`). A backend refuses to read such a document for a run (exit 2) unless asked to.
   */
  migratedTo?: string;
}

export interface LockInfo {
  id: string;
  operation: string;
  pid: number;
  host: string;
  user: string;
  startedAt: string;
  /** The holder renews before this; after it the lock is stale. */
  expiresAt: string;
  /** Linux process start time of `pid`, to tell a reused pid from the holder. */
  pidStartTime?: string;
  /**
   * Held for one quick edit (a secret, a setting) that ends within a second: a taker waits a
   * few seconds for it instead of refusing. A deploy's lock is not brief.
   */
  brief?: boolean;
}

/**
 * A lock file whose holder cannot be read: empty (its creator was killed between creating and
 * writing it, as older versions could leave it) or not a lock record.
 */
export interface UnreadableLock {
  /** What was found, e.g. `empty lock file .stepwise/state.lock`. */
  unreadable: string;
  /** Set once it is too old to be in the middle of being written: why it counts as abandoned. */
  stale?: string;
}

/** A lock as found: its holder (with `stale` when the holder is gone or expired), or an unreadable one. */
export type FoundLock = (LockInfo & { stale?: string }) | UnreadableLock;

/** How {@link StateBackend.lock} treats a live holder. */
export interface LockWaitOptions {
  /** Wait up to this long for a live holder to release (`--lock-wait`) before refusing with exit 3. */
  waitMs?: number;
  /** Told once per holder waited for, with a description of that holder. */
  onWait?: (holder: string) => void;
}

/** A kept earlier document of the state (`state history`), newest first. */
export interface StateVersion {
  /** Opaque to callers: what {@link StateBackend.readVersion} takes. */
  id: string;
  serial: number;
  /** When it was replaced (the write that kept it). */
  keptAt: string;
  /** Who wrote the document, when the backend knows. */
  writer?: string;
}

export interface StateLock {
  readonly info: LockInfo;
  /** Extend the expiry. Throws if the lock was broken or taken over. */
  renew(): Promise<void>;
  /** Release; a no-op when already released. */
  release(): Promise<void>;
}

/**
 * Where state lives. Guarantees every backend must keep:
 * - `write` is compare-and-swap on `etag`: a write based on a stale read throws
 *   `STATE_CONFLICT`, never loses an update silently.
 * - `write` is atomic: a reader sees the old or the new document, never a mix; once it has
 *   written, it clears the run journal (see {@link StateBackend.appendJournal}).
 * - `lock` throws `STATE_LOCKED` (exit 3) naming the holder when a live run holds it; a
 *   `brief` holder is waited for a few seconds first.
 */
export interface StateBackend {
  /** Human description (`file .stepwise/state.json`, `azblob https://.../state.json`). */
  readonly description: string;
  /** How `state migrate --to` and a migrated copy name this state (`file:.stepwise/state.json`, `azblob://ACCOUNT/CONTAINER/BLOB`). */
  readonly address?: string;
  /** The document; one marked `migratedTo` is refused (STATE_MIGRATED, exit 2) unless `allowMigrated`. */
  read(options?: { allowMigrated?: boolean }): Promise<{ state: StateDocument | undefined; etag: string | undefined }>;
  /** Keeps the document it replaces as an earlier version ({@link history}). */
  write(state: StateDocument, etag: string | undefined): Promise<{ etag: string }>;
  lock(info: Omit<LockInfo, "expiresAt" | "id">, ttlMs: number, options?: LockWaitOptions): Promise<StateLock>;
  /** Earlier documents kept by writes, newest first (a backend keeps a bounded number). */
  history?(): Promise<StateVersion[]>;
  /** One earlier document from {@link history}. */
  readVersion?(id: string): Promise<StateDocument>;
  /** The current lock, if any (whether live, stale or unreadable). */
  inspectLock(): Promise<FoundLock | undefined>;
  /** Break the lock regardless of its holder; returns what was broken. */
  forceUnlock(): Promise<FoundLock | undefined>;
  /**
   * Stores an immutable content-addressed object (a step's file listing) under `hash`, the
   * sha256 hex of `bytes`. Idempotent: an object already stored under `hash` is left as it is
   * (the file backend rewrites it only when its bytes no longer match the hash); a reader sees
   * no object or the whole object, never part of one. An object store such as Azure Blob
   * Storage keeps each as an immutable blob named by its hash.
   */
  putObject(hash: string, bytes: Uint8Array): Promise<void>;
  /** The object stored under `hash`, or undefined when there is none. The caller checks its hash. */
  getObject(hash: string): Promise<Uint8Array | undefined>;
  /** The hashes of every stored object (for garbage collection). */
  listObjects(): Promise<string[]>;
  /** Removes an object; a no-op when there is none. Called only by the lock holder. */
  deleteObject(hash: string): Promise<void>;
  /**
   * Appends one line (no newline in it) to the run journal, durably: when the promise
   * resolves, the line survives a crash. Only the lock holder appends. Lines are never
   * interleaved or reordered; a crash may leave the last line torn (readers drop it). The
   * file backend appends to `.stepwise/journal.jsonl` with O_APPEND and fsync; an object
   * store appends a block (an append blob, or committed blocks of a block blob).
   */
  appendJournal(line: string): Promise<void>;
  /** The journal's text, undefined when there is none. */
  readJournal(): Promise<string | undefined>;
  /** Removes the journal. `write` calls it after the document is written: a write supersedes the journal. */
  clearJournal(): Promise<void>;
}

export interface BackendContext {
  readonly siteDir: string;
  readonly siteName: string;
  /** Tell the user something they should know (e.g. a stale lock was taken over). */
  warn(message: string): void;
}
export type StateBackendFactory = (options: JsonObject, ctx: BackendContext) => StateBackend | Promise<StateBackend>;

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

/**
 * Where secret values live. A backend never logs a value and never returns one in an error.
 * `setMany` is atomic: either every value is stored or none is.
 */
export interface SecretBackend {
  readonly description: string;
  /** All secrets, read once per command. */
  readAll(): Promise<Map<string, string>>;
  setMany(values: ReadonlyMap<string, string | undefined>): Promise<void>;
}
export type SecretBackendFactory = (options: JsonObject, ctx: BackendContext) => SecretBackend | Promise<SecretBackend>;

// ---------------------------------------------------------------------------------------------
// Plugins
// ---------------------------------------------------------------------------------------------

export interface PluginMeta {
  /** The npm package name. */
  name: string;
  version: string;
}

/**
 * A plugin: what one npm package adds to stepwise. Its package default-exports this object,
 * or a factory `(options) => PluginDefinition` that receives the site's `options:` for it.
 */
export interface PluginDefinition {
  meta: PluginMeta;
  steps?: readonly StepDefinition[];
  targets?: readonly TargetDefinition[];
  stateBackends?: Readonly<Record<string, StateBackendFactory>>;
  secretBackends?: Readonly<Record<string, SecretBackendFactory>>;
}
export type PluginFactory = (options: JsonObject) => PluginDefinition;
