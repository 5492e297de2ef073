// @ts-check
/**
 * Value rules for the authentik settings, in the shape `ConfigKeySpec.validate` wants: a message
 * saying what is wrong, or `undefined`. A plugin cannot import helpers from the stepwise
 * workspace, so it carries its own small ones.
 */

/** @typedef {import("@stepwise/core").JsonValue} JsonValue */

const HOSTNAME_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
// The HTML Standard's "valid e-mail address".
const EMAIL_ADDRESS =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
// authentik releases are YEAR.MONTH[.PATCH], e.g. 2024.12.3.
const AUTHENTIK_VERSION = /^(\d{4})\.(\d{1,2})(?:\.\d+)?$/;

/** @param {JsonValue} value */
export function domainProblem(value) {
  if (typeof value !== "string" || value.length > 253 || !value.split(".").every((label) => HOSTNAME_LABEL.test(label))) {
    return `must be a DNS name like auth.example.com (RFC 1123), got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** @param {JsonValue} value */
export function emailAddressProblem(value) {
  if (typeof value !== "string" || value.length > 254 || !EMAIL_ADDRESS.test(value)) {
    return `must be an e-mail address like admin@example.com, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** @param {JsonValue} value */
export function versionProblem(value) {
  if (typeof value !== "string" || !AUTHENTIK_VERSION.test(value)) {
    return `must be an authentik release like 2024.12.3, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** @param {JsonValue} value */
export function portProblem(value) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    return `must be a port number from 1 to 65535, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/**
 * authentik before 2025.10 keeps its cache and task queue in Redis; from 2025.10 on Postgres does.
 * @param {string} version
 */
export function needsRedis(version) {
  const match = AUTHENTIK_VERSION.exec(version);
  if (!match) return true;
  const [year, month] = [Number(match[1]), Number(match[2])];
  return year < 2025 || (year === 2025 && month < 10);
}
