import pg from "pg";

/** Connection settings come from PG* environment variables; the password from a podman secret (PGPASSWORD). */
export function connect() {
  return new pg.Client({ connectionTimeoutMillis: 5000 });
}

export async function withClient(fn) {
  const client = connect();
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
