import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { readContentIds, WORKER_URL } from "./hash-pool.js";
import { contentIdOf, type HashWorkerData, type HashWorkerResult } from "./hash-worker.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-pool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files = Array.from({ length: 50 }, (_, i) => {
  const file = path.join(dir, `f${i}.txt`);
  writeFileSync(file, "x".repeat(i * 97));
  return file;
});

describe("hash workers", () => {
  it("the worker script starts and hashes what it takes from the shared counter", async () => {
    const next = new Int32Array(new SharedArrayBuffer(4));
    const data: HashWorkerData = { kind: "stepwise-hash-worker", paths: files.join("\0"), next };
    const result = await new Promise<HashWorkerResult>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: data });
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    expect(result.error).toBeUndefined();
    expect(result.indices.length).toBe(files.length);
    expect(result.ids.split("\n")[3]).toBe(contentIdOf(Buffer.from("x".repeat(3 * 97))));
  });

  it("workers and the main thread together give the ids one thread gives, in order, missing files included", async () => {
    const paths = [...files, path.join(dir, "missing.txt")];
    const parallel = await readContentIds(paths, { workers: 2, expectedBytes: 1 << 30 });
    const serial = await readContentIds(paths, { workers: 0 });
    expect(parallel.map((r) => r?.id)).toEqual(serial.map((r) => r?.id));
    expect(parallel.at(-1)).toBeUndefined();
    expect(parallel[10]!.size).toBe(970);
  });
});
