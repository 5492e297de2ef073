// Reads and hashes site files. Runs in the main thread and, for large batches, in worker
// threads: it imports only Node built-ins so the same file runs as a worker from `dist/`
// and from `src/` (Node strips the types).
import { createRequire } from "node:module";
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from "node:fs";
import { isMainThread, parentPort, workerData } from "node:worker_threads";

/**
 * The content id of a file is git's blob id: `sha1("blob <size>\0" + bytes)`. It is what
 * `git ls-files -s` records for a clean tracked file, so a file's entry is the same whether
 * git's index or a read of the file produced it. A symlink's id is `symlink:` + the blob id
 * of its target path (the link is not followed).
 */
export const SYMLINK_PREFIX = "symlink:";

// node:crypto on first use, as node-crypto.ts does (not imported: this file imports only built-ins).
let cryptoModule: typeof import("node:crypto") | undefined;
const nodeCrypto = () => (cryptoModule ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto"));

/** Files up to this size are read with one call; larger ones in chunks of this size. */
const CHUNK = 8 * 1024 * 1024;
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const MAX_ATTEMPTS = 3;

export function contentIdOf(bytes: Uint8Array): string {
  return nodeCrypto().createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** What one read of a file found; `undefined` when it is not there (or not a file). */
export interface FileRead {
  id: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  symlink: boolean;
}

/** A reusable read buffer: one per thread, grown on demand up to CHUNK + 1. */
export interface ReadScratch {
  buffer: Buffer;
}

export function newScratch(): ReadScratch {
  return { buffer: Buffer.allocUnsafeSlow(256 * 1024) };
}

/**
 * Hashes one file: open (no follow), fstat, one read for a file that fits the buffer (asking
 * for one byte more than its size proves the end was reached), close: four system calls.
 * A file that changes size while it is read is read again.
 */
export function readContentId(absolute: string, scratch: ReadScratch): FileRead | undefined {
  let fd: number;
  try {
    fd = openSync(absolute, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK") return readSymlink(absolute);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
  try {
    for (let attempt = 1; ; attempt++) {
      const stat = fstatSync(fd);
      if (!stat.isFile()) return undefined;
      const id = stat.size < CHUNK ? hashWhole(fd, stat.size, scratch) : hashChunked(fd, stat.size, scratch);
      if (id !== undefined) return { id, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, symlink: false };
      if (attempt === MAX_ATTEMPTS) throw new Error(`${absolute} kept changing while it was read`);
    }
  } finally {
    closeSync(fd);
  }
}

function hashWhole(fd: number, size: number, scratch: ReadScratch): string | undefined {
  if (scratch.buffer.length < size + 1) scratch.buffer = Buffer.allocUnsafeSlow(Math.min(CHUNK + 1, Math.max(size + 1, scratch.buffer.length * 2)));
  let read = 0;
  // Regular files return short reads only at the end; the loop covers signals and odd file systems.
  for (;;) {
    const n = readSync(fd, scratch.buffer, read, size + 1 - read, read);
    if (n === 0) break;
    read += n;
    if (read > size) return undefined; // grew while being read
  }
  if (read !== size) return undefined; // shrank
  return nodeCrypto().createHash("sha1").update(`blob ${size}\0`).update(scratch.buffer.subarray(0, size)).digest("hex");
}

function hashChunked(fd: number, size: number, scratch: ReadScratch): string | undefined {
  if (scratch.buffer.length < CHUNK + 1) scratch.buffer = Buffer.allocUnsafeSlow(CHUNK + 1);
  const hash = nodeCrypto().createHash("sha1").update(`blob ${size}\0`);
  let position = 0;
  for (;;) {
    const n = readSync(fd, scratch.buffer, 0, CHUNK, position);
    if (n === 0) break;
    position += n;
    if (position > size) return undefined;
    hash.update(scratch.buffer.subarray(0, n));
  }
  return position === size ? hash.digest("hex") : undefined;
}

function readSymlink(absolute: string): FileRead | undefined {
  let stat;
  try {
    stat = lstatSync(absolute);
  } catch {
    return undefined;
  }
  if (!stat.isSymbolicLink()) return undefined;
  const target = readlinkSync(absolute, { encoding: "buffer" });
  return { id: SYMLINK_PREFIX + contentIdOf(target), size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, symlink: true };
}

/** Data a hash worker starts with. */
export interface HashWorkerData {
  kind: "stepwise-hash-worker";
  /** Absolute paths joined with "\0" (one string is cheaper to copy than an array). */
  paths: string;
  /** Next index to take; shared by every thread hashing this batch. */
  next: Int32Array;
}

/** A worker's results: for index `indices[i]`, the hex id at `ids[i]` and four stat numbers. */
export interface HashWorkerResult {
  indices: Int32Array;
  ids: string;
  /** size, mtimeMs, ctimeMs, ino per result. */
  stats: Float64Array;
  /** 0 missing, 1 file, 2 symlink. */
  kinds: Uint8Array;
  error?: string;
}

/** Takes indices from the shared counter until none are left (used by workers and the main thread alike). */
export function drainQueue(paths: readonly string[], next: Int32Array, onRead: (index: number, read: FileRead | undefined) => void): void {
  const scratch = newScratch();
  for (;;) {
    const index = Atomics.add(next, 0, 1);
    if (index >= paths.length) return;
    onRead(index, readContentId(paths[index]!, scratch));
  }
}

function runAsWorker(data: HashWorkerData): void {
  const paths = data.paths.split("\0");
  const indices: number[] = [];
  const ids: string[] = [];
  const stats: number[] = [];
  const kinds: number[] = [];
  let error: string | undefined;
  try {
    drainQueue(paths, data.next, (index, read) => {
      indices.push(index);
      ids.push(read?.id ?? "");
      stats.push(read?.size ?? 0, read?.mtimeMs ?? 0, read?.ctimeMs ?? 0, read?.ino ?? 0);
      kinds.push(read ? (read.symlink ? 2 : 1) : 0);
    });
  } catch (caught) {
    // The main thread hashes whatever this worker did not report, and surfaces the error itself.
    error = (caught as Error).message;
  }
  const result: HashWorkerResult = { indices: Int32Array.from(indices), ids: ids.join("\n"), stats: Float64Array.from(stats), kinds: Uint8Array.from(kinds), error };
  parentPort!.postMessage(result, [result.indices.buffer as ArrayBuffer, result.stats.buffer as ArrayBuffer, result.kinds.buffer as ArrayBuffer]);
}

if (!isMainThread && (workerData as HashWorkerData | undefined)?.kind === "stepwise-hash-worker") runAsWorker(workerData as HashWorkerData);
