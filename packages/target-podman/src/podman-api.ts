import http from "node:http";
import { createRequire } from "node:module";
import type Docker from "dockerode";
import { podmanErrors } from "./errors.js";
import { diagnoseHostFailure } from "./host-diagnosis.js";

/** Libpod API prefix; Podman 4.x serves every 4.x path under it. */
export const LIBPOD = "/v4.0.0/libpod";

export interface ApiRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  signal?: AbortSignal;
  /** What the request does, for error messages ("create container x"). */
  what: string;
}

/** An error from the Podman API with its HTTP status, so callers can treat 404/409 as answers. */
export class PodmanApiError extends Error {
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode: number | undefined) {
    super(message);
    this.statusCode = statusCode;
  }
}

/**
 * A thin client over one Podman service: JSON requests go over node:http to the unix socket;
 * dockerode (~100-150 ms to load: docker-modem, ssh2, ...) is loaded only for streams (build,
 * pull, logs, exec, wait), so a no-op run never loads it.
 */
export class PodmanApi {
  readonly socketPath: string;
  #docker: Docker | undefined;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  /** dockerode on the same socket, loaded on first use. */
  get docker(): Docker {
    if (!this.#docker) {
      const DockerClass = createRequire(import.meta.url)("dockerode") as typeof Docker;
      this.#docker = new DockerClass({ socketPath: this.socketPath });
    }
    return this.#docker;
  }

  /** A JSON request. Throws {@link PodmanApiError} for any non-2xx status (304 counts as success). */
  request<T = unknown>(req: ApiRequest): Promise<T> {
    const body = req.body !== undefined && req.method !== "GET" ? Buffer.from(JSON.stringify(req.body)) : undefined;
    return this.#send<T>(req, body, "application/json");
  }

  /** A request whose body is raw bytes (secret data, tar archives). */
  requestRaw<T = unknown>(req: ApiRequest & { data: Buffer; contentType: string }): Promise<T> {
    return this.#send<T>(req, req.data, req.contentType);
  }

  #send<T>(req: ApiRequest, body: Buffer | undefined, contentType: string): Promise<T> {
    const query = new URLSearchParams(encodeQuery(req.query ?? {})).toString();
    return new Promise<T>((resolve, reject) => {
      const request = http.request(
        {
          socketPath: this.socketPath,
          path: query ? `${req.path}?${query}` : req.path,
          method: req.method,
          signal: req.signal,
          headers: body ? { "Content-Type": contentType, "Content-Length": String(body.length) } : {},
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => reject(toApiError(error)));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: unknown = text;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              // plain text (e.g. _ping's "OK")
            }
            const status = response.statusCode ?? 0;
            if ((status >= 200 && status < 300) || status === 304) return resolve(json as T);
            const message = (json as { message?: string } | undefined)?.message ?? (text || `HTTP ${status}`);
            reject(new PodmanApiError(String(message).trim(), status));
          });
        },
      );
      request.on("error", (error) => reject(toApiError(error)));
      request.end(body);
    });
  }

  /** Like {@link request}, but a 404 yields `undefined`. */
  async requestOrMissing<T>(req: ApiRequest): Promise<T | undefined> {
    try {
      return await this.request<T>(req);
    } catch (error) {
      if (error instanceof PodmanApiError && error.statusCode === 404) return undefined;
      throw error;
    }
  }
}

/** Libpod reads map- and list-valued query parameters as JSON. */
function encodeQuery(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    out[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

function toApiError(error: unknown): PodmanApiError {
  if (error instanceof PodmanApiError) return error;
  const e = error as { statusCode?: number; json?: { message?: string; cause?: string } | string; message?: string; name?: string };
  if (e && e.name === "AbortError") {
    const abort = new PodmanApiError("aborted", undefined);
    abort.name = "AbortError";
    return abort;
  }
  const json = typeof e?.json === "object" && e.json !== null ? e.json : undefined;
  const message = json?.message ?? (typeof e?.json === "string" ? e.json : undefined) ?? e?.message ?? String(error);
  return new PodmanApiError(String(message).trim(), e?.statusCode);
}

/** Wraps an API failure into the plugin's StepwiseError, passing StepwiseErrors and aborts through. */
export function apiFailure(what: string, error: unknown, hint?: string): Error {
  if (error instanceof Error && (error.name === "StepwiseError" || error.name === "AbortError")) return error;
  const failure = error instanceof PodmanApiError ? error : toApiError(error);
  const taken = /listen tcp[46]? ([^\s:]+:\d+|\[[^\]]+\]:\d+): bind: address already in use/.exec(failure.message);
  if (taken) return podmanErrors.portInUse(what, taken[1]!, { statusCode: failure.statusCode, message: failure.message });
  const host = failure.statusCode !== undefined && failure.statusCode >= 500 ? diagnoseHostFailure(failure.message) : undefined;
  if (host) return podmanErrors.hostUnsupported(what, host, { statusCode: failure.statusCode, message: failure.message });
  return podmanErrors.api(what, { statusCode: failure.statusCode, message: failure.message }, hint);
}

/** True for the "already exists" answers Podman gives when a racing call created the object first. */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof PodmanApiError && (error.statusCode === 409 || /already exists|already in use|already used|name in use/i.test(error.message));
}
