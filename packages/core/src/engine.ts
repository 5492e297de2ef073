/**
 * `@stepwise/core/engine`: the engine's API for programs — open a site, plan, deploy, and the
 * state, secret, configure and backup operations the CLI is made of. Plugins do not need it
 * (they import `@stepwise/core`); what is not exported here or there is internal.
 *
 * Follow one deploy: `SiteSession.open({ dir })` loads the site and its plugins, then
 * `deploySite(session, options)` plans and applies under the state lock.
 *
 * It re-exports the plugin contract (`@stepwise/core`), so a program needs one import.
 */
export * from "./index.js";
export type { EngineEvent } from "./engine/engine-events.js";
export { SiteSession, SITE_LOCK_TTL_MS } from "./engine/site-session.js";
export { forgetPlanMemo, offerPlanMemo, vetoPlanMemo } from "./cache/plan-memo.js";
export { trace } from "./log/trace.js";
export { createBackend } from "./engine/site-backends.js";
export type { OpenSiteOptions, OwnedSecret } from "./engine/site-session.js";
export { planSite, deploySite, pendingChanges } from "./engine/deploy.js";
export type { PlanOptions, DeployOptions, DeployResult } from "./engine/deploy.js";
export type { Plan, StepPlan } from "./plan/compute-plan.js";
export { formatReason, summarizeReasons } from "./plan/plan-reasons.js";
export type { PlanReason } from "./plan/plan-reasons.js";
export { findOrphans, formatRemovalReason, formatVolumeAction } from "./plan/orphans.js";
export type { RemovalPlan, RemovalReason, OrphanInputs } from "./plan/orphans.js";
export { errors, closestNames } from "./errors/error-codes.js";
export { redactError } from "./errors/stepwise-error.js";
export { loadSite, parseSite, SITE_FILE } from "./site/load-site.js";
export type { SiteFile, PluginEntry, ServiceEntry, JobEntry } from "./site/load-site.js";
export { inspectPlugins, loadPlugins, resolvePackageRoot } from "./plugins/load-plugins.js";
export type { LoadedPlugin, PluginListing } from "./plugins/load-plugins.js";
export { SITE_SCHEMA_PATH } from "./site/site-schema.js";
export { siteSchemaWithPlugins } from "./site/site-schema-with-plugins.js";
export type { SchemaPlugin } from "./site/site-schema-with-plugins.js";
export { SITE_SCHEMA_VERSION } from "./site/version-rule.js";
export { resolveConfig, configEnvName } from "./config/resolve-config.js";
export type { ResolvedConfig, OwnedConfigKey, ConfigSource } from "./config/resolve-config.js";
export { FileStateBackend, STATE_DIR } from "./state/file-state-backend.js";
export { currentHolder, describeHolder, describeFoundLock, LockWaiter } from "./state/file-lock.js";
export { STATE_HISTORY_KEEP, refuseMigrated, stateSettingFor } from "./state/state-migrated.js";
export { parseState, emptyState, STATE_VERSION } from "./state/state-document.js";
export { applyJournal, readState } from "./state/state-journal.js";
export { collectGarbage, storeInlineListings, withInlineListings, withoutInlineListings } from "./state/state-listings.js";
export { writeFileAtomically } from "./files/write-file-atomically.js";
export type { AtomicWriteOptions } from "./files/write-file-atomically.js";
export { AgeSecretBackend, AGE_IDENTITY_ENV } from "./secrets/age-secret-backend.js";
export { generateSecret } from "./secrets/generate-secret.js";
export { SiteSecrets, HMAC_KEY_NAME } from "./secrets/site-secrets.js";
export { Redactor, MIN_SECRET_LENGTH, redactKnownSecrets } from "./log/redactor.js";
export { listQuestions, checkAnswer, saveConfigValue, savePluginEntry, readProgress, writeProgress, updateProgress, newProgress, progressFile } from "./configure/configure-flow.js";
export type { Question, ConfigureProgress } from "./configure/configure-flow.js";
export { TEMPLATE_VERSION_FILE } from "./templates/templates-step.js";
export { createBackup, createSafetyBackup, listBackups, listSafetyBackups, pruneSafetyBackups, verifyBackup, restoreBackup, BACKUP_DIR, SAFETY_BACKUPS_KEPT } from "./backup/site-backup.js";
export type { BackupInfo, BackupManifest, RestoreOptions, RestoreResult, SafetyBackupReason } from "./backup/site-backup.js";
