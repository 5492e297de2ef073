// One-shot migration job: idempotent, exits 0 on success.
import { withClient } from "./db.js";

const greeting = process.env.GREETING ?? "Hello from stepwise";
await withClient(async (client) => {
  await client.query(`CREATE TABLE IF NOT EXISTS greetings (
    id serial PRIMARY KEY,
    message text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  await client.query("INSERT INTO greetings (message) VALUES ($1) ON CONFLICT (message) DO NOTHING", [greeting]);
  const { rows } = await client.query("SELECT count(*)::int AS n FROM greetings");
  console.log(`migrated: greetings has ${rows[0].n} row(s)`);
});
