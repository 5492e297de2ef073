import { SYMLINK_PREFIX } from "../fingerprint/hash-worker.js";
import { readRegularFile } from "./cache-file.js";
import { bytesChecksum } from "./checksum.js";
import { replaceCacheFile } from "./replace-cache-file.js";

/** `file-ids.bin`: the stat cache (see `FileHashCache`). */
export const FILE_IDS = "file-ids.bin";

/** A file's stat when it was hashed, and its content id. */
export interface FileIdRow {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** Content id as the fingerprint records it (hex, `symlink:` prefixed for links). */
  id: string;
}

const MAGIC = 0x43465753; // "SWFC"
const VERSION = 3;
const HEADER_BYTES = 16;
const TRAILER_BYTES = 16;
const ID_BYTES = 20;
/** Per row: size, mtimeMs, ctimeMs, ino (4 x f64), id, kind (1), plus its path in the path block. */
const ROW_BYTES = 32 + ID_BYTES + 1;

/*
 * Layout, in columns so that decoding is a few calls rather than several per row (20,000 rows
 * decode in a few ms): a header of four u32 (magic, version, row count, bytes of the path
 * block), the stats as one f64 array, the ids (20 bytes each), one kind byte each (1: a
 * symlink), the paths joined by NUL, and a trailer: {@link bytesChecksum} of everything before
 * it, in ASCII. Numbers are in this machine's byte order; a file from another order fails the
 * magic. Without the checksum a damaged row whose stat still matched the file would be
 * trusted and give the file a wrong content id: a wrong plan.
 */

/** The rows of a stat cache file, or undefined: another version, the wrong size, a checksum mismatch. Never throws. */
export function decodeFileIds(bytes: Uint8Array): Map<string, FileIdRow> | undefined {
  if (bytes.length < HEADER_BYTES + TRAILER_BYTES) return undefined;
  // Typed views need aligned offsets; a file read whole usually is.
  const data = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  const header = new Uint32Array(data.buffer, data.byteOffset, 4);
  if (header[0] !== MAGIC || header[1] !== VERSION) return undefined;
  const count = header[2]!;
  const pathBytes = header[3]!;
  const end = data.length - TRAILER_BYTES;
  if (HEADER_BYTES + count * ROW_BYTES + pathBytes !== end) return undefined;
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (buffer.toString("latin1", end) !== bytesChecksum(data.subarray(0, end)).padEnd(TRAILER_BYTES)) return undefined;
  const stats = new Float64Array(data.buffer, data.byteOffset + HEADER_BYTES, count * 4);
  const idsAt = HEADER_BYTES + count * 32;
  const kindsAt = idsAt + count * ID_BYTES;
  const pathsAt = kindsAt + count;
  const ids = buffer.toString("hex", idsAt, kindsAt);
  const paths = count === 0 ? [] : buffer.toString("utf8", pathsAt, pathsAt + pathBytes).split("\0");
  if (paths.length !== count) return undefined;
  const rows = new Map<string, FileIdRow>();
  for (let i = 0; i < count; i++) {
    const id = ids.slice(i * 2 * ID_BYTES, (i + 1) * 2 * ID_BYTES);
    rows.set(paths[i]!, { size: stats[i * 4]!, mtimeMs: stats[i * 4 + 1]!, ctimeMs: stats[i * 4 + 2]!, ino: stats[i * 4 + 3]!, id: data[kindsAt + i] === 1 ? SYMLINK_PREFIX + id : id });
  }
  return rows;
}

export function encodeFileIds(rows: ReadonlyMap<string, FileIdRow>): Buffer {
  const count = rows.size;
  const paths = Buffer.from([...rows.keys()].join("\0"), "utf8");
  const end = HEADER_BYTES + count * ROW_BYTES + paths.length;
  const buffer = Buffer.from(new ArrayBuffer(end + TRAILER_BYTES));
  new Uint32Array(buffer.buffer, 0, 4).set([MAGIC, VERSION, count, paths.length]);
  const stats = new Float64Array(buffer.buffer, HEADER_BYTES, count * 4);
  const idsAt = HEADER_BYTES + count * 32;
  const kindsAt = idsAt + count * ID_BYTES;
  let i = 0;
  for (const row of rows.values()) {
    stats[i * 4] = row.size;
    stats[i * 4 + 1] = row.mtimeMs;
    stats[i * 4 + 2] = row.ctimeMs;
    stats[i * 4 + 3] = row.ino;
    const symlink = row.id.startsWith(SYMLINK_PREFIX);
    buffer.write(symlink ? row.id.slice(SYMLINK_PREFIX.length) : row.id, idsAt + i * ID_BYTES, ID_BYTES, "hex");
    buffer[kindsAt + i] = symlink ? 1 : 0;
    i++;
  }
  paths.copy(buffer, kindsAt + count);
  buffer.write(bytesChecksum(buffer.subarray(0, end)).padEnd(TRAILER_BYTES), end, "latin1");
  return buffer;
}

/** The rows kept in `file`, or undefined when there are none to trust. Never throws. */
export function readFileIds(file: string): Map<string, FileIdRow> | undefined {
  try {
    return decodeFileIds(readRegularFile(file));
  } catch {
    return undefined; // none yet, or not a file
  }
}

/** Replaces `file` with these rows (see `replaceCacheFile`); false when it could not. Never throws. */
export function writeFileIds(file: string, rows: ReadonlyMap<string, FileIdRow>): boolean {
  return replaceCacheFile(file, encodeFileIds(rows));
}
