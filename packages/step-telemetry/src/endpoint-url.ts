
/** Re-exported from core, where the plugins share it. */
export { endpointUrlProblem } from "@stepwise/core";

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
