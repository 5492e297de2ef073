import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ownSpawn } from "../cache/plan-memo.js";
import { FROM_SOURCES, packageFile } from "../package-root.js";
import { drainQueue, newScratch, readContentId, type FileRead, type HashWorkerData, type HashWorkerResult } from "./hash-worker.js";

/** Below this many files (and bytes) a worker costs more to start than it saves. */
const WORKER_MIN_FILES = 400;
const WORKER_MIN_BYTES = 48 * 1024 * 1024;

/** The worker script: the built `.js` next to this module, or the `.ts` source when running from `src/`. */
// The worker file tsc emits (it imports only Node built-ins), also when this module is bundled.
export const WORKER_URL = FROM_SOURCES ? new URL("./hash-worker.ts", import.meta.url) : packageFile("dist/fingerprint/hash-worker.js");

export interface ReadOptions {
  /** Bytes the files are expected to hold (from the stat cache), to decide on workers. */
  expectedBytes?: number;
  /** Worker threads to use; default one less than the available cores (the main thread hashes too). */
  workers?: number;
}

/**
 * Content ids of files (absolute paths), in order; `undefined` for a file that is not there.
 * Large batches are spread over worker threads and the main thread, which take files from
 * one shared counter so a thread that gets small files takes more of them.
 */
export async function readContentIds(paths: readonly string[], options: ReadOptions = {}): Promise<(FileRead | undefined)[]> {
  const results: (FileRead | undefined)[] = new Array(paths.length);
  const wanted = options.workers ?? Math.min(3, availableParallelism() - 1);
  const big = paths.length >= WORKER_MIN_FILES || (options.expectedBytes ?? 0) >= WORKER_MIN_BYTES;
  const workerCount = big && paths.length > 1 ? Math.max(0, wanted) : 0;
  if (workerCount === 0) {
    const scratch = newScratch();
    for (let i = 0; i < paths.length; i++) results[i] = readContentId(paths[i]!, scratch);
    return results;
  }

  const next = new Int32Array(new SharedArrayBuffer(4));
  const done = new Uint8Array(paths.length);
  const data: HashWorkerData = { kind: "stepwise-hash-worker", paths: paths.join("\0"), next };
  const finished = Array.from({ length: workerCount }, () => {
    const worker = ownSpawn(() => new Worker(WORKER_URL, { workerData: data, stdout: false, stderr: false }));
    return new Promise<HashWorkerResult | undefined>((resolve) => {
      worker.once("message", (result: HashWorkerResult) => resolve(result));
      // A worker that fails to start or dies leaves its files to the main thread.
      worker.once("error", () => resolve(undefined));
      worker.once("exit", () => resolve(undefined));
    });
  });
  let failure: unknown;
  try {
    drainQueue(paths, next, (index, read) => {
      results[index] = read;
      done[index] = 1;
    });
  } catch (error) {
    failure = error;
    Atomics.store(next, 0, paths.length); // stop the workers early
  }
  for (const result of await Promise.all(finished)) {
    if (!result) continue;
    const ids = result.ids.split("\n");
    for (let i = 0; i < result.indices.length; i++) {
      const index = result.indices[i]!;
      const kind = result.kinds[i]!;
      done[index] = 1;
      results[index] =
        kind === 0
          ? undefined
          : { id: ids[i]!, size: result.stats[i * 4]!, mtimeMs: result.stats[i * 4 + 1]!, ctimeMs: result.stats[i * 4 + 2]!, ino: result.stats[i * 4 + 3]!, symlink: kind === 2 };
    }
  }
  if (failure) throw failure;
  // Files a failed worker took but did not report (its error, if real, recurs here).
  const scratch = newScratch();
  for (let i = 0; i < paths.length; i++) if (!done[i]) results[i] = readContentId(paths[i]!, scratch);
  return results;
}
