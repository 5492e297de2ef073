import { describe, expect, it } from "vitest";
import { buildImages } from "./podman-harness.js";
import { podman } from "./helpers.js";

describe("offline images (scripts/images/build.sh)", () => {
  it("builds (or reuses) the four images, tagged by recipe hash", async () => {
    const images = await buildImages();
    expect(images).toEqual(["localhost/stepwise/base-busybox:latest", "localhost/stepwise/postgres:15", "localhost/stepwise/node:latest", "localhost/stepwise/redis:7"]);
    const tags = await podman("images", "--format", "{{.Repository}}:{{.Tag}}");
    for (const repo of ["base-busybox", "postgres", "node", "redis"]) expect(tags).toMatch(new RegExp(`localhost/stepwise/${repo}:r-[0-9a-f]{12}`));
  });

  it("busybox, node and redis images run", async () => {
    expect((await podman("run", "--rm", "localhost/stepwise/redis:7", "redis-server", "--version")).trim()).toMatch(/^Redis server v=7\./);
    expect((await podman("run", "--rm", "localhost/stepwise/base-busybox:latest", "echo", "hi")).trim()).toBe("hi");
    const out = await podman("run", "--rm", "localhost/stepwise/node:latest", "node", "-e", "console.log(process.version, process.getuid())");
    expect(out.trim()).toMatch(/^v\d+\.\d+\.\d+ 1000$/);
  });

  it("postgres initialises from POSTGRES_USER / POSTGRES_PASSWORD_FILE and runs as the postgres user", async () => {
    const name = "stepwise-images-test-pg";
    await podman("rm", "-f", "-t", "0", name).catch(() => "");
    try {
      await podman("run", "-d", "--name", name, "-e", "POSTGRES_USER=u", "-e", "POSTGRES_DB=a,b", "-e", "POSTGRES_PASSWORD_FILE=/etc/hostname", "localhost/stepwise/postgres:15");
      await expect
        .poll(() => podman("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "u").then(() => true, () => false), { timeout: 60_000, interval: 500 })
        .toBe(true);
      const dbs = await podman("exec", name, "psql", "-X", "-At", "-U", "u", "-d", "postgres", "-c", "SELECT datname FROM pg_database ORDER BY 1");
      expect(dbs.split("\n")).toEqual(expect.arrayContaining(["a", "b", "postgres"]));
      expect((await podman("exec", name, "ps", "-o", "user,comm")).split("\n").filter((l) => l.includes("postgres")).every((l) => l.trim().startsWith("postgres"))).toBe(true);
    } finally {
      await podman("rm", "-f", "-t", "0", name).catch(() => "");
    }
  });
});
