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
  TargetConnectContext,
  TargetDefinition,
  StepRecord,
  StateDocument,
  LockInfo,
  FoundLock,
  UnreadableLock,
  StateLock,
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
export { StepwiseError, ExitCode, isStepwiseError, errorMessage, redactError } from "./errors/stepwise-error.js";
export type { StepwiseErrorOptions } from "./errors/stepwise-error.js";
export { ErrorCode, errors } from "./errors/error-codes.js";
export { CORE_PACKAGE, CORE_VERSION } from "./version.js";
export { loadSite, parseSite, flattenConfig, SITE_FILE } from "./site/load-site.js";
export type { SiteFile, PluginEntry, ServiceEntry, JobEntry } from "./site/load-site.js";
export { SITE_SCHEMA_PATH, validateSiteSchema } from "./site/site-schema.js";
export { checkVersionCompatible, SITE_SCHEMA_VERSION } from "./site/version-rule.js";
export { resolveConfig, configEnvName } from "./config/resolve-config.js";
export type { ResolvedConfig, OwnedConfigKey, ConfigSource } from "./config/resolve-config.js";
export { loadPlugins, resolvePackageRoot } from "./plugins/load-plugins.js";
export type { LoadedPlugin } from "./plugins/load-plugins.js";
export { buildStepGraph, downstreamOf } from "./graph/step-graph.js";
export type { StepGraph } from "./graph/step-graph.js";
export { computeInputFingerprint, canonicalJson, hashJson, sha256, diffEntries } from "./fingerprint/compute-input-fingerprint.js";
export type { InputEntries } from "./fingerprint/compute-input-fingerprint.js";
export { FileHashCache } from "./fingerprint/file-hash-cache.js";
export { selectSiteFiles } from "./fingerprint/site-files.js";
export { formatReason, summarizeReasons } from "./plan/plan-reasons.js";
export type { PlanReason } from "./plan/plan-reasons.js";
export type { Plan, StepPlan } from "./plan/compute-plan.js";
export { findOrphans, formatRemovalReason, formatVolumeAction } from "./plan/orphans.js";
export type { RemovalPlan, RemovalReason, OrphanInputs } from "./plan/orphans.js";
export { FileStateBackend, STATE_DIR } from "./state/file-state-backend.js";
export { FileLock, currentHolder, describeHolder, describeFoundLock } from "./state/file-lock.js";
export { parseState, emptyState, STATE_VERSION } from "./state/state-document.js";
export { AgeSecretBackend, AGE_IDENTITY_ENV } from "./secrets/age-secret-backend.js";
export { generateSecret, secretAlphabet } from "./secrets/generate-secret.js";
export { SiteSecrets, HMAC_KEY_NAME } from "./secrets/site-secrets.js";
export { Redactor, REDACTED, MIN_SECRET_LENGTH, redactKnownSecrets } from "./log/redactor.js";
export { createWorkloadSteps, parseReferences, parsePorts } from "./services/service-steps.js";
export type { SiteStep } from "./context/step-context.js";
export { SiteSession } from "./engine/site-session.js";
export type { OpenSiteOptions, OwnedSecret } from "./engine/site-session.js";
export { planSite, deploySite, pendingChanges } from "./engine/deploy.js";
export type { PlanOptions, DeployOptions, DeployResult } from "./engine/deploy.js";
export type { EngineEvent } from "./engine/engine-events.js";
export { listQuestions, checkAnswer, saveConfigValue, readProgress, writeProgress, updateProgress, newProgress, progressFile } from "./configure/configure-flow.js";
export type { Question, ConfigureProgress } from "./configure/configure-flow.js";
export { closestNames } from "./errors/error-codes.js";
export { createTemplatesStep, TEMPLATE_VERSION_FILE, TEMPLATES_STEP } from "./templates/templates-step.js";
export { createBackup, listBackups, verifyBackup, restoreBackup, BACKUP_DIR } from "./backup/site-backup.js";
export type { BackupManifest, BackupInfo } from "./backup/site-backup.js";
export { resourceRecord, recordedResources, checkRecordedResources, resourceRef, recordedRefs } from "./resources/resource-record.js";
export { isSet, invalidConfig, requireConfig, checkedConfig } from "./plugin-kit/config-values.js";
export { endpointUrlProblem } from "./validation/value-problems.js";
