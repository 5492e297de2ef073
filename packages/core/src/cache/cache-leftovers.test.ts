import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { replaceCacheFile } from "./replace-cache-file.js";
import { removeCacheLeftovers } from "./cache-leftovers.js";

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), "stepwise-leftovers-"));
const touch = (dir: string, names: string[]) => names.forEach((n) => writeFileSync(path.join(dir, n), "x"));

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "0"]);
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
afterAll(() => void sleeper.kill());

describe("temp files of killed cache writers", () => {
  it("removes cache temp files of dead processes and old ones, and keeps a live writer's", async () => {
    const dir = tempDir();
    const dead = await deadPid();
    touch(dir, [`file-ids.bin.${dead}.tmp`, `site.json.${sleeper.pid}.tmp`, `memo.json.${sleeper.pid}.tmp`, "site.json"]);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path.join(dir, `memo.json.${sleeper.pid}.tmp`), old, old);
    removeCacheLeftovers(dir);
    expect(readdirSync(dir).sort()).toEqual(["site.json", `site.json.${sleeper.pid}.tmp`]);
  });

  it("the first cache write of a run cleans its directory", async () => {
    const dir = tempDir();
    const dead = await deadPid();
    touch(dir, [`file-ids.bin.${dead}.tmp`]);
    replaceCacheFile(path.join(dir, "site.json"), "{}");
    expect(readdirSync(dir)).toEqual(["site.json"]);
  });
});
