import { ErrorCode, ExitCode, StepwiseError } from "@stepwise/core";
import type { HostProblem } from "./host-diagnosis.js";

/**
 * Error codes this plugin raises, alphabetised by code: its own `PODMAN_*` and the core codes
 * it shares. Stable: scripts may match on them. Each has a factory in {@link podmanErrors}.
 */
export const PodmanErrorCode = {
  /** The Podman API refused or failed a request. Exit 1. */
  ApiError: "PODMAN_API_ERROR",
  /** A container exited or turned unhealthy while being brought up. Exit 1. */
  ContainerFailed: "PODMAN_CONTAINER_FAILED",
  /** The host cannot run containers: a tool Podman's network backend or runtime needs (iptables, netavark, CNI plugins, runc ...) is missing; no step is at fault. Exit 2. */
  HostUnsupported: "PODMAN_HOST_UNSUPPORTED",
  /** An image is not present and could not be pulled or built. Exit 1. */
  ImageMissing: "PODMAN_IMAGE_MISSING",
  /** A job container exited non-zero or timed out. Exit 1. */
  JobFailed: "PODMAN_JOB_FAILED",
  /** A host port a service publishes is taken by another process; no retry of the step fixes that. Exit 2. */
  PortInUse: "PODMAN_PORT_IN_USE",
  /** The resource spec is unusable (bad env name ...). Exit 2. */
  SpecInvalid: "PODMAN_SPEC_INVALID",
  /** A configured socket does not answer. Exit 2. */
  Unreachable: "PODMAN_UNREACHABLE",
  /** A secret the resource references has no value (core's code). Exit 2. */
  SecretMissing: ErrorCode.SecretMissing,
  /** No reachable Podman API socket and no `podman` binary to start one (core's code). Exit 2. */
  TargetMissing: ErrorCode.TargetMissing,
  /** A resource kind this target does not realise (core's code). Exit 2. */
  TargetUnsupported: ErrorCode.TargetUnsupported,
  /** A day-2 command named a service that has no container here (core's code). Exit 2. */
  Usage: ErrorCode.Usage,
} as const;

/** Context for errors raised by the Podman API: the status and the daemon's own message. */
export interface ApiFailure {
  statusCode?: number;
  message: string;
}

export const podmanErrors = {
  api(what: string, failure: ApiFailure, hint?: string): StepwiseError {
    const status = failure.statusCode === undefined ? "" : ` (HTTP ${failure.statusCode})`;
    return new StepwiseError(PodmanErrorCode.ApiError, `Podman could not ${what}${status}: ${failure.message}`, {
      exitCode: ExitCode.StepFailed,
      hint: hint ?? "check the podman service log, e.g. journalctl --user -u podman, or podman system service --log-level=debug",
      details: failure.statusCode === undefined ? undefined : { statusCode: failure.statusCode },
    });
  },
  containerFailed(container: string, problem: string, logs: string): StepwiseError {
    return new StepwiseError(
      PodmanErrorCode.ContainerFailed,
      `Container ${container} ${problem}.${logs ? `\nLast log lines:\n${logs}` : ""}`,
      { exitCode: ExitCode.StepFailed, hint: `podman logs ${container}` },
    );
  },
  /** `stepwise logs SERVICE`: the service's container `container` does not exist. */
  containerNotFound(container: string, service: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.Usage, `No container ${container} for service "${service}".`, { hint: "stepwise status" });
  },
  hostUnsupported(what: string, problem: HostProblem, failure: ApiFailure): StepwiseError {
    return new StepwiseError(
      PodmanErrorCode.HostUnsupported,
      `This host cannot run containers: ${problem.problem}. Podman could not ${what}: ${failure.message}`,
      { exitCode: ExitCode.BadInput, hint: problem.hint },
    );
  },
  portInUse(what: string, address: string, failure: ApiFailure): StepwiseError {
    const port = address.slice(address.lastIndexOf(":") + 1);
    return new StepwiseError(PodmanErrorCode.PortInUse, `Host port ${address} is already in use by another process, so Podman could not ${what}: ${failure.message}`, {
      exitCode: ExitCode.BadInput,
      hint: `see what listens there: ss -ltnp 'sport = :${port}'; stop it, or publish another host port (ports: in stepwise.yaml), then run the command again`,
      details: { address },
    });
  },
  imageMissing(image: string, reason: string, hint: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.ImageMissing, `Image ${image} is not available: ${reason}`, {
      exitCode: ExitCode.StepFailed,
      hint,
    });
  },
  jobFailed(container: string, problem: string, logs: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.JobFailed, `Job container ${container} ${problem}.${logs ? `\nLast log lines:\n${logs}` : ""}`, {
      exitCode: ExitCode.StepFailed,
      hint: `podman logs ${container}   (fix the job, then run stepwise deploy again)`,
    });
  },
  /** `ensure` was asked for a resource kind this target does not realise (the plan checks `kinds` first). */
  kindUnsupported(kind: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.TargetUnsupported, `The podman target cannot realise resources of kind "${kind}".`, {
      exitCode: ExitCode.BadInput,
      hint: "use a target that supports it (e.g. target: azure), or run it as a service",
    });
  },
  secretMissing(secret: string, usedBy: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.SecretMissing, `Secret ${secret} (used by ${usedBy}) has no value.`, {
      exitCode: ExitCode.BadInput,
      hint: `stepwise secrets set ${secret}`,
      details: { secrets: [secret] },
    });
  },
  /** `stepwise restart SERVICE`: no container of `service` runs for the site. */
  serviceNotRunning(service: string, site: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.Usage, `No service "${service}" runs for site ${site}.`, { hint: "stepwise status" });
  },
  specInvalid(resource: string, problem: string): StepwiseError {
    return new StepwiseError(PodmanErrorCode.SpecInvalid, `Resource ${resource}: ${problem}`, {
      exitCode: ExitCode.BadInput,
      hint: "fix the resource in stepwise.yaml (services:/jobs:) or in the plugin that requested it",
    });
  },
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
};
