/**
 * `@stepwise/core`: the contract every plugin is written against — the types of plugins,
 * steps, targets, resources and backends, the `define*` helpers, the error type, and the
 * small helpers a plugin needs. Programs that drive the engine (the CLI, tests, scripts)
 * import `@stepwise/core/engine`; unit tests of a plugin's steps `@stepwise/core/testing`.
 * Nothing else of core is public.
 */
export type {
  JsonValue,
  JsonObject,
  PresetName,
  ConfigKeySpec,
  SecretGenerator,
  SecretSpec,
  ConfigReader,
  StepInputs,
  StepOutputs,
  DriftReport,
  StepLogger,
  StepContext,
  StepSecrets,
  StepFiles,
  StepDefinition,
  SecretRef,
  ResourceOutputs,
  BuildSpec,
  HealthCheckSpec,
  PortSpec,
  ServiceResource,
  JobResource,
  PostgresResource,
  RedisResource,
  ObjectStoreResource,
  SecretResource,
  ResourceSpec,
  ResourceKind,
  ResourceResult,
  ResourceRef,
  TargetInventoryEntry,
  RemoveOptions,
  RemoveResult,
  TargetRemoveScope,
  StepTarget,
  TargetCallScope,
  ServiceStatus,
  TargetSession,
  DownPreview,
  TargetConnectContext,
  TargetDefinition,
  StepRecord,
  StateDocument,
  LockInfo,
  FoundLock,
  UnreadableLock,
  StateLock,
  LockWaitOptions,
  StateVersion,
  StateBackend,
  BackendContext,
  StateBackendFactory,
  SecretBackend,
  SecretBackendFactory,
  PluginMeta,
  PluginDefinition,
  PluginFactory,
} from "./contracts.js";
export { PRESETS } from "./contracts.js";
export { definePlugin, defineStep, defineTarget } from "./define.js";
export { StepwiseError, ExitCode, isStepwiseError, errorMessage } from "./errors/stepwise-error.js";
export type { StepwiseErrorOptions } from "./errors/stepwise-error.js";
export { ErrorCode } from "./errors/error-codes.js";
export { CORE_PACKAGE, CORE_VERSION } from "./version.js";
export { resourceRecord, recordedResources, checkRecordedResources } from "./resources/resource-record.js";
export { isSet, invalidConfig, requireConfig, checkedConfig } from "./plugin-kit/config-values.js";
export { endpointUrlProblem } from "./validation/value-problems.js";
export { canonicalJson, hashJson } from "./fingerprint/compute-input-fingerprint.js";
export { redactSecrets, REDACTED } from "./log/redactor.js";
