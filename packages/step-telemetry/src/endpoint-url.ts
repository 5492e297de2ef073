import type { JsonValue } from "@stepwise/core";

/**
 * An http(s) endpoint URL as config may hold it. Credentials in the URL are refused: config
 * values are shown in plans and kept in state, so a password there would leak; it belongs in a
 * secret. Pure: parses with the WHATWG URL parser, no I/O.
 */
export function endpointUrlProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string") return `must be an http(s) URL, got ${JSON.stringify(value)}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an http(s) URL like https://s3.example.com, got ${JSON.stringify(value)}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `must use http or https, got ${url.protocol.slice(0, -1)}`;
  if (url.username !== "" || url.password !== "") return "must not contain a user name or password; keep credentials in secrets";
  return undefined;
}

/**
 * Whether a Sentry DSN has the shape `https://PUBLIC_KEY@HOST/PROJECT_ID`. Returns a message that
 * never repeats the DSN (it is a secret).
 */
export function sentryDsnProblem(dsn: string): string | undefined {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must use http or https";
  if (url.username === "") return "has no public key before the @";
  if (!/^\/(?:.*\/)?\d+$/.test(url.pathname)) return "must end in a numeric project id";
  return undefined;
}
