import type { JsonValue } from "@stepwise/core";

/**
 * Database and role names this step accepts: lowercase letters, digits and underscores, not
 * starting with a digit, at most 63 bytes (Postgres' NAMEDATALEN - 1). Deliberately stricter than
 * Postgres: such a name never needs quoting, so every target may put it into SQL, a connection
 * URL or an environment variable as it is.
 */
const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Roles Postgres reserves (`pg_` prefix) or that a target may create for itself. */
const RESERVED_ROLES = new Set(["postgres", "public", "none", "current_user", "session_user"]);

export function identifierProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string" || !SAFE_IDENTIFIER.test(value)) {
    return `must be 1-63 lowercase letters, digits or underscores, not starting with a digit, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

export function roleNameProblem(value: JsonValue): string | undefined {
  const problem = identifierProblem(value);
  if (problem) return problem;
  if (typeof value === "string" && (value.startsWith("pg_") || RESERVED_ROLES.has(value))) {
    return `"${value}" is reserved by Postgres; pick another user name`;
  }
  return undefined;
}

/** Oldest Postgres major this step asks for; older ones are out of upstream support. */
export const OLDEST_POSTGRES_MAJOR = 13;

export function postgresMajorProblem(value: JsonValue): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < OLDEST_POSTGRES_MAJOR || value > 99) {
    return `must be a Postgres major version (${OLDEST_POSTGRES_MAJOR} or newer, e.g. 16), got ${JSON.stringify(value)}`;
  }
  return undefined;
}
