import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";

/** The parts of libpod's container inspect this target reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  ImageName?: string;
  Image?: string;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: { Status?: string };
  };
  Config: {
    Labels?: Record<string, string> | null;
    Env?: string[];
    Cmd?: string[] | null;
    Entrypoint?: string | string[] | null;
    /** Podman secrets mounted into the container. */
    Secrets?: { Name: string }[] | null;
  };
  NetworkSettings?: {
    Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    /** By network name: the container's address on it (empty while it is not running). */
    Networks?: Record<string, { IPAddress?: string }> | null;
  };
  Mounts?: { Type: string; Name?: string; Destination: string }[];
}

/** One row of libpod's container list. */
export interface ContainerListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
  State: string;
  Image: string;
  StartedAt: number;
  Ports: { host_ip: string; container_port: number; host_port: number; protocol: string }[] | null;
  Mounts?: string[];
}

export async function inspectContainer(api: PodmanApi, name: string, signal?: AbortSignal): Promise<ContainerInspect | undefined> {
  try {
    return await api.requestOrMissing<ContainerInspect>({ method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(name)}/json`, signal, what: `inspect container ${name}` });
  } catch (error) {
    throw apiFailure(`inspect container ${name}`, error);
  }
}

export async function listContainers(api: PodmanApi, labelFilters: string[], signal?: AbortSignal): Promise<ContainerListEntry[]> {
  try {
    return await api.request<ContainerListEntry[]>({
      method: "GET",
      path: `${LIBPOD}/containers/json`,
      query: { all: true, filters: { label: labelFilters } },
      signal,
      what: "list containers",
    });
  } catch (error) {
    throw apiFailure("list containers", error);
  }
}

export async function startContainer(api: PodmanApi, name: string, signal?: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(name)}/start`, signal, what: `start container ${name}` });
      return;
    } catch (error) {
      if (attempt < IMAGE_MOUNT_ATTEMPTS && isImageMountRace(error)) {
        await sleep(250 * attempt, signal);
        continue;
      }
      throw apiFailure(`start container ${name}`, error, `podman start ${name}   (see podman logs ${name})`);
    }
  }
}

const IMAGE_MOUNT_ATTEMPTS = 4;

/**
 * Podman 4.3 races on image volumes (the helper image mounted at /.stepwise-helper): when
 * another container that mounts the same image exits at the same moment (a finished job,
 * another site's container), its cleanup can unmount the image between this start's mount
 * and runc's, and runc fails with "error mounting ... no such file or directory". Measured
 * here: about 1 start in 8 while such containers churn; a second start 250 ms later
 * succeeded every time.
 */
export function isImageMountRace(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /error mounting .*no such file or directory/s.test(message);
}

/** Stops (waiting up to `timeoutSeconds` for a graceful exit) and removes a container; a missing container is fine. */
export async function removeContainer(api: PodmanApi, name: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
  try {
    await api.requestOrMissing({
      method: "POST",
      path: `${LIBPOD}/containers/${encodeURIComponent(name)}/stop`,
      query: { timeout: timeoutSeconds },
      signal,
      what: `stop container ${name}`,
    });
  } catch {
    // Already stopped (304) or exiting: removal below settles it.
  }
  try {
    await api.requestOrMissing({
      method: "DELETE",
      path: `${LIBPOD}/containers/${encodeURIComponent(name)}`,
      query: { force: true, v: false },
      signal,
      what: `remove container ${name}`,
    });
  } catch (error) {
    throw apiFailure(`remove container ${name}`, error, `podman rm -f ${name}`);
  }
}

/**
 * The last `tail` lines of a container's stdout and stderr, as text. Never throws: a failure
 * to read logs yields a note instead, since logs only decorate another error.
 */
export async function tailLogs(api: PodmanApi, name: string, tail: number): Promise<string> {
  try {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      api.docker.modem.dial(
        {
          path: `/containers/${encodeURIComponent(name)}/logs?`,
          method: "GET",
          options: { stdout: true, stderr: true, tail: String(tail) },
          statusCodes: { 200: true, 404: "no such container" },
        } as never,
        (error: unknown, data: unknown) => (error ? reject(error) : resolve(Buffer.isBuffer(data) ? data : Buffer.from(String(data ?? "")))),
      );
    });
    return demuxLogBuffer(raw).trimEnd();
  } catch (error) {
    return `(logs unavailable: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * Docker's multiplexed log framing (8-byte header: stream, 0, 0, 0, size BE32) to text.
 * Buffers without framing (TTY containers) are returned as they are.
 */
export function demuxLogBuffer(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const stream = raw[offset];
    const size = raw.readUInt32BE(offset + 4);
    if ((stream !== 0 && stream !== 1 && stream !== 2) || raw[offset + 1] !== 0 || offset + 8 + size > raw.length) {
      return raw.toString("utf8");
    }
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  if (offset !== raw.length) return raw.toString("utf8");
  return Buffer.concat(parts).toString("utf8");
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

/** Runs `command` (argument array) in a running container and collects its output. */
export async function execIn(api: PodmanApi, container: string, command: readonly string[], signal?: AbortSignal, env?: string[]): Promise<ExecResult> {
  try {
    const exec = await api.docker.getContainer(container).exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true, Env: env, abortSignal: signal } as never);
    const stream = await exec.start({ hijack: true, stdin: false, abortSignal: signal } as never);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", reject);
    });
    let exitCode = -1;
    for (let i = 0; i < 50; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) {
        exitCode = info.ExitCode ?? -1;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { exitCode, output: demuxLogBuffer(Buffer.concat(chunks)) };
  } catch (error) {
    throw apiFailure(`run ${command[0]} in container ${container}`, error);
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
