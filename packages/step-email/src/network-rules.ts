import { isIP } from "node:net";
import type { JsonValue } from "@stepwise/core";

/**
 * Value rules for mail settings, in the shape `ConfigKeySpec.validate` wants: a message saying
 * what is wrong, or `undefined`. Pure functions: no I/O, never throw.
 */

// RFC 1123 §2.1 host name: dot-separated labels of letters, digits and hyphens, 1-63 characters,
// not starting or ending with a hyphen, 253 characters in all.
const HOSTNAME_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

// The HTML Standard's "valid e-mail address" (WHATWG, §4.10.5.1.5): the pragmatic subset of
// RFC 5322 that browsers accept, without quoted local parts or comments.
const EMAIL_ADDRESS =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function portProblem(value: JsonValue): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    return `must be a port number from 1 to 65535, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** A host name (RFC 1123) or an IP address literal. */
export function hostnameProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string") return `must be a host name, got ${JSON.stringify(value)}`;
  if (isIP(value) !== 0) return undefined;
  const labels = value.endsWith(".") ? value.slice(0, -1).split(".") : value.split(".");
  if (value.length > 253 || labels.some((label) => !HOSTNAME_LABEL.test(label))) {
    return `must be a host name (letters, digits and hyphens in dot-separated labels of at most 63 characters, RFC 1123) or an IP address, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

export function emailAddressProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string" || value.length > 254 || !EMAIL_ADDRESS.test(value)) {
    return `must be an e-mail address like noreply@example.com, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** An AWS region code such as `eu-west-1` or `us-gov-west-1`. */
export function awsRegionProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string" || !/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/.test(value)) {
    return `must be an AWS region code like eu-west-1, got ${JSON.stringify(value)}`;
  }
  return undefined;
}
