import type { DriftReport, JobResource, RemoveResult, ResourceRef, ResourceResult, TargetCallScope, TargetRemoveScope } from "@stepwise/core";
import { hashJson, type JsonObject } from "@stepwise/core";
import { API_VERSIONS } from "./api-versions.js";
import { describe, sleep, type ArmBody, type ArmResource } from "./arm-client.js";
import { appImage, containerParts, probeTagged, removeMade, storeSecrets, type Context } from "./container-app.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import { Tag } from "./naming.js";
import type { AzureSettings } from "./settings.js";

const JOB = "Microsoft.App/jobs";
const EXECUTION = "Microsoft.App/jobs/executions";
/** Execution states that are final (JobExecutionRunningState). */
const ENDED = new Set(["Succeeded", "Failed", "Stopped", "Degraded"]);
/** Polls of a running execution: the first after 1 s, then slower up to every 10 s. */
const POLL_MS = [1_000, 2_000, 5_000, 10_000];

/** A manually triggered Container Apps job: one replica that must complete within `timeoutSeconds`, never retried by Azure (stepwise's resume is the retry). */
function jobBody(settings: AzureSettings, spec: JobResource, image: string, secretUris: ReadonlyMap<string, string>, pushedTo?: string): ArmBody {
  const parts = containerParts(settings, spec, image, secretUris, pushedTo);
  return {
    location: settings.location,
    identity: parts.identity,
    properties: {
      environmentId: parts.environmentId,
      workloadProfileName: "Consumption",
      configuration: {
        triggerType: "Manual",
        replicaTimeout: spec.timeoutSeconds ?? 600,
        replicaRetryLimit: 0,
        manualTriggerConfig: { replicaCompletionCount: 1, parallelism: 1 },
        ...parts.configuration,
      },
      template: { containers: [{ name: settings.names.containerApp(spec.name), ...parts.container }] },
    },
  } as ArmBody;
}

const resultHash = (name: string, jobSpec: string) => hashJson({ kind: "job", name, job: jobSpec });

/**
 * `job`: a Container Apps job (manual trigger) in the site's environment, running as the site's
 * identity, started (`POST .../start`) and waited for through its execution. An unchanged job
 * whose newest execution succeeded is not run again; one still running (stepwise was stopped
 * while waiting) is waited for; otherwise a new execution is started. An execution that ends
 * Failed fails the step (exit 1) naming where its logs are.
 */
export async function ensureJob(ctx: Context, spec: JobResource, scope: TargetCallScope): Promise<ResourceResult<"job">> {
  const { arm, settings } = ctx;
  if (spec.volumes && Object.keys(spec.volumes).length > 0) throw azureErrors.volumesUnsupported(spec.name);
  const secretUris = await storeSecrets(ctx, spec, scope);
  const image = await appImage(ctx, spec, scope);
  const name = settings.names.containerApp(spec.name);
  const id = resourceId(settings, "Microsoft.App", "jobs", name);
  const body = jobBody(settings, spec, image.ref, secretUris, image.server);
  const jobSpec = hashJson({ apiVersion: API_VERSIONS[JOB], body: body as JsonObject });
  const existing = await arm.get(id, JOB, scope.signal);
  let change: ResourceResult["change"] = "unchanged";
  let newest: ArmResource | undefined;
  if (!existing || existing.tags?.[Tag.Spec] !== jobSpec || existing.properties?.provisioningState !== "Succeeded") {
    await arm.put(id, JOB, { ...body, tags: { ...settings.names.tags(scope.step, jobSpec), [Tag.Resource]: spec.name } }, scope.log, scope.signal);
    scope.log.info(`${describe(id)}: ${existing ? "updated" : "created"}`);
    change = existing ? "replaced" : "created";
  } else {
    newest = await newestExecution(ctx, id, scope.signal);
  }
  let execution = newest;
  if (execution?.properties?.status === "Succeeded") {
    scope.log.info(`job ${spec.name}: execution ${execution.name} already succeeded`);
  } else {
    if (execution && !ENDED.has(String(execution.properties?.status))) {
      scope.log.progress(`job ${spec.name}: execution ${execution.name} is still running from an earlier run; waiting for it`);
    } else {
      const started = await arm.action(id, JOB, "start", scope.signal);
      execution = { id: String(started.id ?? `${id}/executions/${String(started.name)}`), name: String(started.name) };
      scope.log.info(`job ${spec.name}: started execution ${execution.name}`);
    }
    execution = await waitForExecution(ctx, spec, execution, scope);
    if (change === "unchanged") change = "replaced";
  }
  return {
    kind: "job",
    name: spec.name,
    id,
    specHash: resultHash(spec.name, jobSpec),
    change,
    outputs: { job: name, exitCode: 0 },
  };
}

/** The job's newest execution (by start time), or undefined. One GET. */
export async function newestExecution({ arm }: Pick<Context, "arm">, jobId: string, signal: AbortSignal): Promise<ArmResource | undefined> {
  const list = await arm.list(`${jobId}/executions`, EXECUTION, signal);
  return list.sort((a, b) => String(b.properties?.startTime ?? "").localeCompare(String(a.properties?.startTime ?? "")))[0];
}

/** Polls the execution until it ends; Failed/Stopped/Degraded or the job's timeout fails the step with where its logs are. */
async function waitForExecution({ arm, settings }: Pick<Context, "arm" | "settings">, spec: JobResource, execution: ArmResource, scope: TargetCallScope): Promise<ArmResource> {
  const started = Date.now();
  // Azure stops the replica at replicaTimeout; a little longer here covers scheduling.
  const deadline = started + ((spec.timeoutSeconds ?? 600) + 120) * 1000;
  const executionId = String(execution.id);
  for (let poll = 0; ; poll++) {
    await sleep(POLL_MS[Math.min(poll, POLL_MS.length - 1)]!, scope.signal);
    const now = await arm.get(executionId, EXECUTION, scope.signal);
    const status = String(now?.properties?.status ?? "Unknown");
    if (status === "Succeeded") {
      scope.log.info(`job ${spec.name}: execution ${execution.name} succeeded (${Math.round((Date.now() - started) / 1000)}s)`);
      return now!;
    }
    if (ENDED.has(status) || !now) throw azureErrors.jobFailed(spec.name, String(execution.name), now ? `ended ${status}` : "is gone", logsLocation(settings, String(execution.name)));
    if (Date.now() > deadline) throw azureErrors.jobFailed(spec.name, String(execution.name), `did not finish within ${spec.timeoutSeconds ?? 600}s`, logsLocation(settings, String(execution.name)));
    scope.log.progress(`job ${spec.name}: execution ${execution.name} ${status} (${Math.round((Date.now() - started) / 1000)}s)`);
  }
}

/** Where an execution's console logs are: the site's Log Analytics workspace, and the query that finds them. */
export function logsLocation(settings: AzureSettings, execution: string): { workspace: string; query: string } {
  return {
    workspace: resourceId(settings, "Microsoft.OperationalInsights", "workspaces", settings.names.workspace),
    query: `ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith '${execution}' | project TimeGenerated, Log_s | order by TimeGenerated asc`,
  };
}

/** One GET of the job: gone, Failed, or its spec tag differs from what was deployed. */
export function probeJob({ arm }: Pick<Context, "arm">, result: ResourceResult<"job">, scope: TargetCallScope): Promise<DriftReport | void> {
  return probeTagged(arm, result, JOB, (tag) => resultHash(result.name, tag), scope.signal);
}

/** A job that left the site: the job (and its execution history) is deleted. */
export function removeJob({ arm }: Pick<Context, "arm">, ref: ResourceRef, scope: TargetRemoveScope): Promise<RemoveResult> {
  return removeMade(arm, ref, JOB, scope);
}
