import { ExitCode, StepwiseError } from "@stepwise/core";

/** Error codes of the azblob backend. Stable: scripts may match on them. */
export const AzblobErrorCode = {
  /** `state.options` of stepwise.yaml is wrong, or holds a secret. Exit 2. */
  OptionInvalid: "AZBLOB_OPTION_INVALID",
  /** Storage refused the credential (401/403), or none could be found. Exit 2. */
  AuthFailed: "AZBLOB_AUTH_FAILED",
  /** The blob service does not answer (connection refused, DNS, TLS). Exit 2. */
  Unreachable: "AZBLOB_UNREACHABLE",
  /** Storage failed a request. Exit 1. */
  RequestFailed: "AZBLOB_REQUEST_FAILED",
} as const;

interface SdkError {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
}

function sdkError(error: unknown): SdkError {
  return (typeof error === "object" && error !== null ? error : { message: String(error) }) as SdkError;
}

export function isStatus(error: unknown, status: number): boolean {
  return sdkError(error).statusCode === status;
}

/**
 * Removes what may be a secret from an SDK message: the given values, and any account key,
 * SAS signature or connection-string secret by its shape (a message may quote a request URL).
 */
export function redactAzure(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[REDACTED]");
  return out
    .replace(/(AccountKey|SharedAccessSignature)=[^;\s"']*/gi, "$1=[REDACTED]")
    .replace(/([?&]sig=)[^&\s"']*/gi, "$1[REDACTED]")
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, "$1[REDACTED]");
}

/** The first line of an SDK message, redacted and bounded (storage's XML bodies follow it). */
function shortMessage(e: SdkError, secrets: readonly string[]): string {
  const first = (e.message ?? "").split("\n")[0]!.slice(0, 300);
  return redactAzure(first, secrets);
}

export const azblobErrors = {
  badOption(key: string, expected: string): StepwiseError {
    return new StepwiseError(AzblobErrorCode.OptionInvalid, `stepwise.yaml state.options.${key}: expected ${expected}.`, {
      exitCode: ExitCode.BadInput,
      location: `state.options.${key}`,
      hint: "see docs/state-backends.md for the azblob options",
    });
  },
  noAccount(): StepwiseError {
    return new StepwiseError(AzblobErrorCode.OptionInvalid, "stepwise.yaml state.options: the azblob backend needs account (or url), or a connection string in the environment.", {
      exitCode: ExitCode.BadInput,
      location: "state.options",
      hint: "state: { backend: azblob, options: { account: ACCOUNT, container: CONTAINER } }   (CI: export STEPWISE_AZBLOB_CONNECTION_STRING=...)",
    });
  },
  /** A secret (connection string, SAS, key) in stepwise.yaml: refused, the file is committed. */
  secretInSiteFile(key: string, envName: string): StepwiseError {
    return new StepwiseError(AzblobErrorCode.OptionInvalid, `state.options.${key}: a storage secret belongs neither in stepwise.yaml (it is committed) nor in --set (other users see argv); nothing was read or written.`, {
      exitCode: ExitCode.BadInput,
      location: `state.options.${key}`,
      hint: `remove state.options.${key} and export ${envName} instead (in CI, from the pipeline's secret store)`,
    });
  },
  /** A storage request `what` failed. The message holds no secret: SDK text is redacted. */
  request(backend: string, what: string, error: unknown, secrets: readonly string[]): StepwiseError {
    if (error instanceof StepwiseError) return error;
    const e = sdkError(error);
    const detail = shortMessage(e, secrets);
    if (e.name === "CredentialUnavailableError" || e.name === "AuthenticationError" || e.name === "AggregateAuthenticationError" || e.statusCode === 401 || e.statusCode === 403) {
      return new StepwiseError(AzblobErrorCode.AuthFailed, `${backend}: storage refused the credential while trying to ${what}${e.statusCode ? ` (HTTP ${e.statusCode}${e.code ? ` ${e.code}` : ""})` : ""}: ${detail}`, {
        exitCode: ExitCode.BadInput,
        location: backend,
        hint: "az login, or give the identity the Storage Blob Data Contributor role on the container; in CI export STEPWISE_AZBLOB_CONNECTION_STRING or STEPWISE_AZBLOB_SAS",
      });
    }
    if (e.statusCode === undefined && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|certificate|ECONNRESET|socket hang up|ETIMEDOUT/i.test(`${e.code ?? ""} ${e.message ?? ""}`)) {
      return new StepwiseError(AzblobErrorCode.Unreachable, `${backend} does not answer while trying to ${what}: ${detail}`, {
        exitCode: ExitCode.BadInput,
        location: backend,
        hint: "check state.options.account / url and the network; for a private CA set NODE_EXTRA_CA_CERTS",
      });
    }
    return new StepwiseError(AzblobErrorCode.RequestFailed, `${backend}: could not ${what}${e.statusCode ? ` (HTTP ${e.statusCode}${e.code ? ` ${e.code}` : ""})` : ""}: ${detail}`, {
      exitCode: ExitCode.StepFailed,
      location: backend,
      hint: "run the command again; nothing was overwritten (writes are compare-and-swap)",
    });
  },
};
