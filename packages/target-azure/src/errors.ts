import { ExitCode, StepwiseError } from "@stepwise/core";

/** Error codes this plugin raises. Stable: scripts may match on them. */
export const AzureErrorCode = {
  /** No credential DefaultAzureCredential can use, or Resource Manager refused it (401/403). Exit 2. */
  AuthFailed: "AZURE_AUTH_FAILED",
  /** `azure.armEndpoint` does not answer (connection refused, TLS, DNS). Exit 2. */
  Unreachable: "AZURE_UNREACHABLE",
  /** Resource Manager refused or failed a request, or a long-running operation ended Failed. Exit 1. */
  ArmError: "AZURE_ARM_ERROR",
  /** A resource provider stayed unregistered. Exit 1. */
  ProviderNotRegistered: "AZURE_PROVIDER_NOT_REGISTERED",
  /** The site's Postgres user differs from the administrator the existing server was made with (Azure cannot rename it). Exit 2. */
  PostgresAdminFixed: "AZURE_POSTGRES_ADMIN_FIXED",
  /** A service asks for something the azure target cannot do yet (named volumes). Exit 2. */
  ServiceUnsupported: "AZURE_SERVICE_UNSUPPORTED",
  /** An image built for a service or job could not be pushed to the site's registry. Exit 1. */
  ImagePushFailed: "AZURE_IMAGE_PUSH_FAILED",
  /** A Container Apps job execution ended Failed (or did not finish in time). Exit 1. */
  JobFailed: "AZURE_JOB_FAILED",
  /** A public app's FQDN did not answer its HTTPS probe. Exit 1. */
  VerifyFailed: "AZURE_VERIFY_FAILED",
  /** `restart` or `logs` names a service the site has no Container App for. Exit 2. */
  ServiceNotFound: "AZURE_SERVICE_NOT_FOUND",
  /** A secret the resource references has no value (core's code). Exit 2. */
  SecretMissing: "SECRET_MISSING",
  /** `stepwise logs NAME` cannot stream: NAME is a job (its logs are in Log Analytics), the app has no ready revision or replica (exit 2), or the log stream refused (exit 1). */
  LogsUnavailable: "AZURE_LOGS_UNAVAILABLE",
} as const;

/** What the SDK throws: RestError (statusCode, code) or a credential error (name). */
interface SdkError {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { error?: { code?: string; message?: string } };
}

export function sdkError(error: unknown): SdkError {
  return (typeof error === "object" && error !== null ? error : { message: String(error) }) as SdkError;
}

/** The ARM error code of a failed request (`ResourceNotFound` ...), if any. */
export function armCode(error: unknown): string | undefined {
  const e = sdkError(error);
  return e.details?.error?.code ?? e.code;
}

export const azureErrors = {
  /**
   * Maps an SDK failure of `what` to a StepwiseError with a hint. Messages are Resource Manager's
   * own (they name resources, never request bodies), so no secret value reaches them.
   */
  fromSdk(what: string, error: unknown, endpoint: string): StepwiseError {
    if (error instanceof StepwiseError) return error;
    const e = sdkError(error);
    if (e.name === "CredentialUnavailableError" || e.name === "AuthenticationError" || e.name === "AggregateAuthenticationError" || e.statusCode === 401) {
      return new StepwiseError(AzureErrorCode.AuthFailed, `Azure refused the credential while trying to ${what}: ${e.message ?? "authentication failed"}`, {
        exitCode: ExitCode.BadInput,
        hint: "az login   (or set AZURE_CLIENT_ID/AZURE_TENANT_ID with AZURE_FEDERATED_TOKEN_FILE for workload identity; see docs/azure.md)",
        cause: error,
      });
    }
    if (e.statusCode === 403) {
      return new StepwiseError(AzureErrorCode.AuthFailed, `The deploying identity may not ${what}: ${e.message ?? "forbidden"}`, {
        exitCode: ExitCode.BadInput,
        hint: "grant the identity the roles listed in docs/azure.md on the subscription or resource group",
        cause: error,
      });
    }
    if (e.statusCode === undefined && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|certificate|ECONNRESET|socket hang up/i.test(`${e.code ?? ""} ${e.message ?? ""}`)) {
      return new StepwiseError(AzureErrorCode.Unreachable, `Azure Resource Manager at ${endpoint} does not answer (${e.message ?? e.code}) while trying to ${what}.`, {
        exitCode: ExitCode.BadInput,
        location: "azure.armEndpoint",
        hint: `check azure.armEndpoint (now ${endpoint}) and the network; for a private CA set NODE_EXTRA_CA_CERTS`,
        cause: error,
      });
    }
    const code = armCode(error);
    const status = e.statusCode === undefined ? "" : ` (HTTP ${e.statusCode}${code ? ` ${code}` : ""})`;
    return new StepwiseError(AzureErrorCode.ArmError, `Azure could not ${what}${status}: ${e.details?.error?.message ?? e.message ?? "unknown error"}`, {
      exitCode: ExitCode.StepFailed,
      hint: "run stepwise deploy again to resume; az monitor activity-log list --resource-group <group> shows what Azure did",
      details: e.statusCode === undefined ? undefined : { statusCode: e.statusCode, ...(code ? { armCode: code } : {}) },
      cause: error,
    });
  },
  providerNotRegistered(namespace: string, state: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.ProviderNotRegistered, `Resource provider ${namespace} is still ${state} on the subscription.`, {
      exitCode: ExitCode.StepFailed,
      hint: `az provider register --namespace ${namespace} --wait   (then stepwise deploy)`,
    });
  },
  secretMissing(secret: string, usedBy: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.SecretMissing, `Secret ${secret} (used by ${usedBy}) has no value.`, {
      exitCode: ExitCode.BadInput,
      hint: `stepwise secrets set ${secret}`,
      details: { secrets: [secret] },
    });
  },
  /** Building or pushing `resource`'s image failed (the registry's credentials never appear in `reason`). */
  imagePushFailed(resource: string, registry: string, reason: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.ImagePushFailed, `The image of ${resource} could not be pushed to registry ${registry}: ${reason}`, {
      exitCode: ExitCode.StepFailed,
      hint: `az role assignment create --role AcrPush --assignee <the deploying identity> --scope $(az acr show --name ${registry} --query id -o tsv)   (then: stepwise deploy)`,
    });
  },
  /** A service or job with neither `image:` nor `build:` (a component plugin's bug). */
  imageMissing(resource: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.ServiceUnsupported, `stepwise.yaml services.${resource}: ${resource} needs either image: or build:.`, {
      exitCode: ExitCode.BadInput,
      location: `services.${resource}`,
      hint: `add image: or build: to services.${resource} in stepwise.yaml`,
    });
  },
  /** A job's execution ended other than Succeeded: where its logs are (the workspace and the query), exit 1. */
  jobFailed(job: string, execution: string, problem: string, logs: { workspace: string; query: string }): StepwiseError {
    return new StepwiseError(AzureErrorCode.JobFailed, `Job ${job}: execution ${execution} ${problem}. Its logs are in Log Analytics workspace ${logs.workspace}: ${logs.query}`, {
      exitCode: ExitCode.StepFailed,
      hint: `az monitor log-analytics query --workspace <workspace customer id> --analytics-query "${logs.query}"   (fix the job, then stepwise deploy runs it again)`,
      details: { execution, workspace: logs.workspace },
    });
  },
  /** A public app's HTTPS probe did not answer well within the timeout. */
  verifyFailed(service: string, url: string, problem: string, seconds: number, group: string, app: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.VerifyFailed, `Service ${service} is not served at ${url} after ${seconds}s (last answer: ${problem}).`, {
      exitCode: ExitCode.StepFailed,
      hint: `az containerapp logs show --name ${app} --resource-group ${group}   (then stepwise deploy; a slow start: raise azure.verify.timeoutSeconds)`,
    });
  },
  /** `stepwise restart NAME` or `stepwise logs NAME` for a name that is no Container App of the site. */
  serviceNotFound(service: string, site: string, known: readonly string[], hint = "stepwise status   (lists the site's services)"): StepwiseError {
    return new StepwiseError(AzureErrorCode.ServiceNotFound, `Site ${site} has no Container App for service ${service}${known.length ? ` (it has: ${known.join(", ")})` : ""}.`, {
      exitCode: ExitCode.BadInput,
      hint,
    });
  },
  /** `services.NAME.volumes`: Container Apps volumes need Azure Files storage, not made yet. */
  volumesUnsupported(service: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.ServiceUnsupported, `stepwise.yaml services.${service}.volumes: service ${service} mounts named volumes, which the azure target cannot provide yet (Container Apps needs Azure Files storage for them).`, {
      exitCode: ExitCode.BadInput,
      location: `services.${service}.volumes`,
      hint: `remove volumes: from services.${service} (keep data in postgres or an object store), or deploy with target: podman`,
    });
  },
  /** `stepwise logs JOB`: jobs are not streamed; where their executions' console logs are (the workspace and the query). */
  jobLogs(job: string, logs: { workspace: string; query: string }): StepwiseError {
    return new StepwiseError(AzureErrorCode.LogsUnavailable, `${job} is a job: stepwise logs streams apps only. Its executions' logs are in Log Analytics workspace ${logs.workspace}: ${logs.query}`, {
      exitCode: ExitCode.BadInput,
      hint: `az monitor log-analytics query --workspace <workspace customer id> --analytics-query "${logs.query}"`,
      details: { workspace: logs.workspace, query: logs.query },
    });
  },
  /** `stepwise logs SERVICE` for an app with nothing to stream yet (no ready revision, no replica). */
  logsNotReady(service: string, app: string, problem: string, hint: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.LogsUnavailable, `Service ${service} has no logs to stream: Container App ${app} ${problem}.`, { exitCode: ExitCode.BadInput, hint });
  },
  /** The log stream answered other than 200 (`reason` is its answer, which never holds the request's token). */
  logStreamFailed(service: string, app: string, status: number, reason: string, group: string): StepwiseError {
    const answer = status ? `answered HTTP ${status}${reason ? `: ${reason}` : ""}` : `could not be read: ${reason}`;
    return new StepwiseError(AzureErrorCode.LogsUnavailable, `The log stream of Container App ${app} (service ${service}) ${answer}.`, {
      exitCode: ExitCode.StepFailed,
      hint: `az containerapp logs show --name ${app} --resource-group ${group}   (the deploying identity needs Microsoft.App/containerApps/getAuthtoken/action: Contributor or Container Apps Contributor)`,
      details: status ? { statusCode: status } : undefined,
    });
  },
  postgresAdminFixed(server: string, current: string, wanted: string): StepwiseError {
    return new StepwiseError(AzureErrorCode.PostgresAdminFixed, `Postgres server ${server} was created with administrator ${current}; Azure cannot rename it to ${wanted}.`, {
      exitCode: ExitCode.BadInput,
      location: "database.user",
      hint: `stepwise configure --set database.user=${current}   (or delete the server, losing its data, and deploy again)`,
    });
  },
};
