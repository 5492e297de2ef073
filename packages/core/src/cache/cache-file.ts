import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { bytesChecksum } from "./checksum.js";
import { replaceCacheFile } from "./replace-cache-file.js";

/**
 * Where a site's caches live. Every file in it is a hint, never authority: missing, damaged,
 * of another version, or something else than a file, it is ignored and rebuilt, which costs
 * time, never a wrong plan or a failed command. docs/design.md lists each file and what
 * invalidates it.
 */
export const CACHE_DIR = path.join(".stepwise", "cache");

/**
 * The bytes of `file` if it is a regular file; throws otherwise. Opened without blocking and
 * checked before it is read: a FIFO (or a device) in a cache's place would otherwise hang the
 * read forever.
 */
export function readRegularFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The path of the cache file `name` of the site in `siteDir`. */
export const cachePath = (siteDir: string, name: string): string => path.join(siteDir, CACHE_DIR, name);

/**
 * One cache file of JSON data: its name, its format version and what a valid value looks like.
 * On disk, a header line `stepwise-cache <name> <version> <checksum>` and the JSON; the checksum
 * ({@link bytesChecksum}, no `node:crypto`) covers the JSON's bytes, so damage anywhere in it
 * is found before the value is trusted, not only damage that breaks the JSON or its shape.
 */
export interface JsonCache<T> {
  readonly name: string;
  readonly version: number;
  /** The value, or undefined: no file, another name or version, a checksum or shape mismatch, unreadable. Never throws. */
  read(siteDir: string): T | undefined;
  /** Replaces the file (see {@link replaceCacheFile}); false when it could not. Never throws. */
  write(siteDir: string, value: T): boolean;
  encode(value: T): Buffer;
  decode(bytes: Uint8Array): T | undefined;
}

export interface JsonCacheSpec<T> {
  name: string;
  version: number;
  /** Whether a parsed value is one this version writes (a type guard: the shape is checked, not assumed). */
  isValid(value: unknown): value is T;
  /** File mode (0o600 for a cache that holds config values). */
  mode?: number;
}

export function defineJsonCache<T>(spec: JsonCacheSpec<T>): JsonCache<T> {
  const { name, version, isValid, mode } = spec;
  const header = `stepwise-cache ${name} ${version} `;
  const decode = (bytes: Uint8Array): T | undefined => {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const newline = buffer.indexOf(10);
    if (newline < 0 || buffer.toString("latin1", 0, header.length) !== header) return undefined;
    const body = buffer.subarray(newline + 1);
    if (buffer.toString("latin1", header.length, newline) !== bytesChecksum(body)) return undefined;
    try {
      const value: unknown = JSON.parse(body.toString("utf8"));
      return isValid(value) ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const encode = (value: T): Buffer => {
    const body = Buffer.from(JSON.stringify(value), "utf8");
    return Buffer.concat([Buffer.from(`${header}${bytesChecksum(body)}\n`, "latin1"), body]);
  };
  return {
    name,
    version,
    encode,
    decode,
    read(siteDir) {
      try {
        return decode(readRegularFile(cachePath(siteDir, name)));
      } catch {
        return undefined; // none yet, or not a file
      }
    },
    write(siteDir, value) {
      let data: Buffer;
      try {
        data = encode(value);
      } catch {
        return false; // a value JSON cannot hold (a cycle, a BigInt): not cached
      }
      return replaceCacheFile(cachePath(siteDir, name), data, mode);
    },
  };
}

/** Type-guard helpers for {@link JsonCacheSpec.isValid}. */
export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
export const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");
export const isStringPair = (value: unknown): value is [string, string] => Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string";
