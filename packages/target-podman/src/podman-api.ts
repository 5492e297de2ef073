import type Docker from "dockerode";
import { podmanErrors } from "./errors.js";

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

const OK_STATUS = { 200: true, 201: true, 204: true, 304: true } as const;

/**
 * A thin client over one Podman service: dockerode for the Docker-compatible endpoints and
 * streams, `modem.dial` for libpod-only endpoints (secrets, image volumes, networks with aliases).
 */
export class PodmanApi {
  readonly docker: Docker;
  readonly socketPath: string;

  constructor(docker: Docker, socketPath: string) {
    this.docker = docker;
    this.socketPath = socketPath;
  }

  /** A JSON request. Throws {@link PodmanApiError} for any non-2xx status. */
  request<T = unknown>(req: ApiRequest): Promise<T> {
    // modem.dial takes the query from `_query` and, for POST, the JSON body from `_body`;
    // an empty `{}` body is not sent.
    const options = { _query: encodeQuery(req.query ?? {}), _body: req.body ?? {} };
    return new Promise<T>((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `${req.path}?`,
          method: req.method,
          options,
          statusCodes: { ...OK_STATUS },
          abortSignal: req.signal,
        } as never,
        (error: unknown, data: unknown) => {
          if (error) reject(toApiError(error));
          else resolve(data as T);
        },
      );
    });
  }

  /** A request whose body is raw bytes (secret data, tar archives). */
  requestRaw<T = unknown>(req: ApiRequest & { data: Buffer; contentType: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `${req.path}?`,
          method: req.method,
          options: { _query: encodeQuery(req.query ?? {}) },
          file: req.data,
          headers: { "Content-Type": req.contentType, "Content-Length": String(req.data.length) },
          statusCodes: { ...OK_STATUS },
          abortSignal: req.signal,
        } as never,
        (error: unknown, data: unknown) => {
          if (error) reject(toApiError(error));
          else resolve(data as T);
        },
      );
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
  return podmanErrors.api(what, { statusCode: failure.statusCode, message: failure.message }, hint);
}

/** True for the "already exists" answers Podman gives when a racing call created the object first. */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof PodmanApiError && (error.statusCode === 409 || /already exists|already in use|already used|name in use/i.test(error.message));
}
