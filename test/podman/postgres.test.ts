import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobResource, PostgresResource, TargetSession } from "@stepwise/core/engine";
import { OFFLINE_IMAGES } from "./podman-harness.js";
import { inspect, openSession, podman, testScope } from "./helpers.js";

const SITE = "t-pg";
const PASSWORD = "pg-Pass-91c2e7d4-never-shown";
const secrets = { db_password: PASSWORD };
let session: Required<TargetSession>;

const db: PostgresResource = { kind: "postgres", name: "db", user: "app", databases: ["app", "audit"], passwordSecret: "db_password" };
const job = (name: string, sql: string): JobResource => ({
  kind: "job",
  name,
  image: OFFLINE_IMAGES.postgres,
  command: ["psql", "-X", "-h", "stepwise-t-pg-db", "-U", "app", "-d", "app", "-v", "ON_ERROR_STOP=1", "-c", sql],
  secrets: { PGPASSWORD: "db_password" },
  timeoutSeconds: 60,
});

async function rows(): Promise<string[]> {
  const out = await podman("exec", "stepwise-t-pg-db", "psql", "-X", "-At", "-U", "app", "-d", "app", "-c", "SELECT x FROM t ORDER BY x");
  return out.trim().split("\n").filter(Boolean);
}

describe("podman target: postgres, jobs, volumes", () => {
  beforeAll(async () => {
    ({ session } = await openSession(SITE));
    await session.down({ volumes: true });
  });
  afterAll(async () => {
    await session?.down({ volumes: true });
  });

  it("stores a secret resource once", async () => {
    const first = await session.ensure({ kind: "secret", name: "db_password" }, testScope(secrets));
    expect(first.change).toBe("created");
    expect(first.outputs).toMatchObject({ secret: { secret: "db_password" } });
    expect((await session.ensure({ kind: "secret", name: "db_password" }, testScope(secrets))).change).toBe("unchanged");
    expect(await session.probe(first, testScope(secrets))).toBeUndefined();
  });

  it("runs postgres with databases and outputs that hold no password", async () => {
    const result = await session.ensure(db, testScope(secrets));
    expect(result.change).toBe("created");
    expect(result.outputs).toMatchObject({ host: "stepwise-t-pg-db", port: 5432, user: "app", databases: ["app", "audit"], password: { secret: "db_password" } });
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    const dbs = await podman("exec", "stepwise-t-pg-db", "psql", "-X", "-At", "-U", "app", "-d", "postgres", "-c", "SELECT datname FROM pg_database ORDER BY 1");
    expect(dbs).toContain("app");
    expect(dbs).toContain("audit");
    expect(JSON.stringify(await inspect("stepwise-t-pg-db"))).not.toContain(PASSWORD);
    expect((await session.ensure(db, testScope(secrets))).change).toBe("unchanged");
  });

  it("runs a job that connects over the site network with the password from a secret", async () => {
    const scope = testScope(secrets);
    const result = await session.ensure(job("migrate", "CREATE TABLE IF NOT EXISTS t (x text); INSERT INTO t VALUES ('row1')"), scope);
    expect(result.change).toBe("created");
    expect(await rows()).toEqual(["row1"]);
    // Same spec, finished with exit 0: not run again.
    expect((await session.ensure(job("migrate", "CREATE TABLE IF NOT EXISTS t (x text); INSERT INTO t VALUES ('row1')"), testScope(secrets))).change).toBe("unchanged");
    expect(await rows()).toEqual(["row1"]);
    const info = await inspect("stepwise-t-pg-migrate");
    expect(JSON.stringify(info)).not.toContain(PASSWORD);
    expect(await podman("logs", "stepwise-t-pg-migrate")).not.toContain(PASSWORD);
  });

  it("reports a failed job with its redacted logs", async () => {
    const failing: JobResource = {
      kind: "job",
      name: "broken",
      image: OFFLINE_IMAGES.helper,
      command: ["sh", "-c", 'echo "connecting with $PGPASSWORD"; echo boom >&2; exit 3'],
      secrets: { PGPASSWORD: "db_password" },
      timeoutSeconds: 30,
    };
    const error = await session.ensure(failing, testScope(secrets)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "PODMAN_JOB_FAILED", exitCode: 1 });
    const message = (error as Error).message;
    expect(message).toContain("exited with code 3");
    expect(message).toContain("connecting with [redacted]");
    expect(message).toContain("boom");
    expect(message).not.toContain(PASSWORD);
    expect((error as { hint?: string }).hint).toContain("podman logs stepwise-t-pg-broken");
  });

  it("times out a job that runs too long", async () => {
    const slow: JobResource = { kind: "job", name: "slow", image: OFFLINE_IMAGES.helper, command: ["sh", "-c", "trap 'exit 143' TERM; echo started; sleep 60 & wait"], timeoutSeconds: 2 };
    await expect(session.ensure(slow, testScope(secrets))).rejects.toMatchObject({ code: "PODMAN_JOB_FAILED", message: expect.stringContaining("did not finish within 2s") });
  });

  it("exports and imports volumes (backup and restore round-trip)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stepwise-backup-"));
    try {
      const exported = await session.exportVolumes(dir);
      expect(exported).toEqual(["stepwise-t-pg-db-data"]);
      expect(readdirSync(dir)).toEqual(["stepwise-t-pg-db-data.tar"]);
      await session.ensure(job("more", "INSERT INTO t VALUES ('row2')"), testScope(secrets));
      expect(await rows()).toEqual(["row1", "row2"]);

      expect(await session.importVolumes(dir)).toEqual(["stepwise-t-pg-db-data"]);
      // The container was stopped for the restore and started again: wait for postgres.
      const ready = await session.ensure(db, testScope(secrets));
      expect(ready.change).toBe("unchanged");
      await expect.poll(() => rows().catch(() => []), { timeout: 30_000, interval: 500 }).toEqual(["row1"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("down --volumes removes everything labelled for the site", async () => {
    const removed = await session.down({ volumes: true });
    expect(removed).toEqual(
      expect.arrayContaining(["container stepwise-t-pg-db", "container stepwise-t-pg-migrate", "network stepwise-t-pg", "volume stepwise-t-pg-db-data"]),
    );
    expect(removed.some((r) => r.startsWith("secret stepwise-t-pg-secret-db_password-"))).toBe(true);
    expect((await podman("ps", "-a", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Names}}")).trim()).toBe("");
    expect((await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${SITE}`, "--format", "{{.Name}}")).trim()).toBe("");
    expect(await podman("network", "ls", "--format", "{{.Name}}")).not.toContain("stepwise-t-pg\n");
    expect(await podman("secret", "ls", "--format", "{{.Name}}")).not.toContain("stepwise-t-pg-");
    expect(await session.down({ volumes: true })).toEqual([]);
  });
});
