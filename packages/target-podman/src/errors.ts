import { ErrorCode, ExitCode, StepwiseError } from "@stepwise/core";
import type { HostProblem } from "./host-diagnosis.js";

/** Error codes this plugin raises (in addition to core's `TARGET_MISSING`). Stable: scripts may match on them. */
export const PodmanErrorCode = {
  /** No reachable Podman API socket and no `podman` binary to start one. */
  TargetMissing: ErrorCode.TargetMissing,
  /**
   * The host cannot run containers: a tool Podman's network backend or runtime needs
   * (iptables, netavark, CNI plugins, runc ...) is missing. Exit 2: no step is at fault.
   */
  HostUnsupported: "PODMAN_HOST_UNSUPPORTED",
  /** A configured socket does not answer. */
  Unreachable: "PODMAN_UNREACHABLE",
  /** The Podman API refused or failed a request. */
  ApiError: "PODMAN_API_ERROR",
  /** An image is not present and could not be pulled or built. */
  ImageMissing: "PODMAN_IMAGE_MISSING",
  /** A container exited or turned unhealthy while being brought up. */
  ContainerFailed: "PODMAN_CONTAINER_FAILED",
  /** A job container exited non-zero or timed out. */
  JobFailed: "PODMAN_JOB_FAILED",
  /** A secret the resource references has no value. */
  SecretMissing: ErrorCode.SecretMissing,
  /** The resource spec is unusable (bad env name, unknown kind ...). */
  SpecInvalid: "PODMAN_SPEC_INVALID",
} as const;

/** Context for errors raised by the Podman API: the status and the daemon's own message. */
export interface ApiFailure {
  statusCode?: number;
  message: string;
}

export const podmanErrors = {
  targetMissing(tried: readonly string[]): StepwiseError {
    return new StepwiseError(
      PodmanErrorCode.TargetMissing,
      `No Podman API answers (tried ${tried.join(", ")}) and the podman command is not installed.`,
      { exitCode: ExitCode.BadInput, hint: "apt-get install -y podman   (or set podman.socket / STEPWISE_PODMAN_SOCKET to a running service)" },
    );
  },
  unreachable(socket: string, source: string, cause?: unknown): StepwiseError {
    return new StepwiseError(PodmanErrorCode.Unreachable, `The Podman API socket ${socket} (from ${source}) does not answer.`, {
      exitCode: ExitCode.BadInput,
      location: source,
      hint: `podman system service --time=0 unix://${socket}   (or fix ${source})`,
      cause,
    });
  },
  hostUnsupported(what: string, problem: HostProblem, failure: ApiFailure): StepwiseError {
    return new StepwiseError(
      PodmanErrorCode.HostUnsupported,
      `This host cannot run containers: ${problem.problem}. Podman could not ${what}: ${failure.message}`,
      { exitCode: ExitCode.BadInput, hint: problem.hint },
    );
  },
  api(what: string, failure: ApiFailure, hint?: string): StepwiseError {
    const status = failure.statusCode === undefined ? "" : ` (HTTP ${failure.statusCode})`;
    return new StepwiseError(PodmanErrorCode.ApiError, `Podman could not ${what}${status}: ${failure.message}`, {
      exitCode: ExitCode.StepFailed,
      hint: hint ?? "check the podman service log, e.g. journalctl --user -u podman, or podman system service --log-level=debug",
      details: failure.statusCode === undefined ? undefined : { statusCode: failure.statusCode },
    });
  },
  imageMissing(image: string, reason: string, hint: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.ImageMissing, `Image ${image} is not available: ${reason}`, {
      exitCode: ExitCode.StepFailed,
      hint,
    });
  },
  containerFailed(container: string, problem: string, logs: string): StepwiseError {
    return new StepwiseError(
      PodmanErrorCode.ContainerFailed,
      `Container ${container} ${problem}.${logs ? `\nLast log lines:\n${logs}` : ""}`,
      { exitCode: ExitCode.StepFailed, hint: `podman logs ${container}` },
    );
  },
  jobFailed(container: string, problem: string, logs: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.JobFailed, `Job container ${container} ${problem}.${logs ? `\nLast log lines:\n${logs}` : ""}`, {
      exitCode: ExitCode.StepFailed,
      hint: `podman logs ${container}   (fix the job, then run stepwise deploy again)`,
    });
  },
  secretMissing(secret: string, usedBy: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.SecretMissing, `Secret ${secret} (used by ${usedBy}) has no value.`, {
      exitCode: ExitCode.BadInput,
      hint: `stepwise secrets set ${secret}`,
      details: { secrets: [secret] },
    });
  },
  specInvalid(resource: string, problem: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.SpecInvalid, `Resource ${resource}: ${problem}`, {
      exitCode: ExitCode.BadInput,
      hint: "fix the resource in stepwise.yaml (services:/jobs:) or in the plugin that requested it",
    });
  },
};
