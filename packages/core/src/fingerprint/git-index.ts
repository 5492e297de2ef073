import { readFileSync } from "node:fs";

/**
 * The entries of a git index file (`.git/index`), read directly: what `git ls-files -s`
 * prints, without a process and without text to parse. Formats 2, 3 and 4 (path prefix
 * compression) with SHA-1 object ids, as gitformat-index(5) describes them.
 *
 * A no-op plan reads the index here while git runs its stat pass: the listing of clean
 * files is ready before git's answer (which then holds only what changed) arrives.
 */
export interface GitIndex {
  /** Repository-relative paths, in index order (sorted by bytes). */
  paths: string[];
  /** Hex object ids, `ids[i]` for `paths[i]`. */
  ids: string[];
  /** File modes: 0o100644, 0o100755, 0o120000 (symlink), 0o160000 (gitlink). */
  modes: number[];
  /** Entries git may not vouch for on disk: unmerged (stage > 0), assume-unchanged, skip-worktree, intent-to-add. */
  unusual: Set<number>;
  /** The trailing checksum (hex): a SHA-1 of the rest of the file, or zeros with `index.skipHash`. */
  checksum: string;
}

const SIGNATURE = 0x44495243; // "DIRC"
const ENTRY_FIXED = 62; // 40 bytes of stat data, 20 of object id, 2 of flags
const ASSUME_VALID = 0x8000;
const EXTENDED = 0x4000;
const STAGE_MASK = 0x3000;
const NAME_MASK = 0x0fff;
const SKIP_WORKTREE = 0x4000;
const INTENT_TO_ADD = 0x2000;

/**
 * Reads the index at `file`. Undefined when it is missing or unreadable, or uses what this
 * reader does not follow: another format version, a split index (`link` extension), a sparse
 * index (`sdir`) or a truncated entry. The caller then asks `git ls-files` instead.
 */
export function readGitIndex(file: string): GitIndex | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  return parseGitIndex(data);
}

export function parseGitIndex(data: Buffer): GitIndex | undefined {
  if (data.length < 12 + 20 || data.readUInt32BE(0) !== SIGNATURE) return undefined;
  const version = data.readUInt32BE(4);
  if (version < 2 || version > 4) return undefined;
  const count = data.readUInt32BE(8);
  const end = data.length - 20; // the trailing checksum
  if (count > (end - 12) / ENTRY_FIXED) return undefined; // damaged: more entries than bytes for them
  const index: GitIndex = { paths: new Array<string>(count), ids: new Array<string>(count), modes: new Array<number>(count), unusual: new Set(), checksum: data.toString("hex", end) };
  let at = 12;
  // Ids and (ASCII) paths are cut from two strings of the whole file, made by two native calls:
  // slices of them cost less than 20,000 calls to toString each.
  const hex = data.toString("hex");
  const text = data.toString("latin1");
  // Format 4 spells each path as the previous one minus some bytes plus a suffix: kept here.
  let pathBytes = Buffer.allocUnsafe(version === 4 ? 4096 : 0);
  let pathLength = 0;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_FIXED > end) return undefined;
    const mode = data.readUInt32BE(at + 24);
    const flags = data.readUInt16BE(at + 60);
    let pathAt = at + ENTRY_FIXED;
    let extended = 0;
    if (flags & EXTENDED) {
      if (version < 3) return undefined;
      extended = data.readUInt16BE(pathAt);
      pathAt += 2;
    }
    let path: string;
    let next: number;
    if (version === 4) {
      // A varint of bytes to drop from the previous path, then the rest, NUL-terminated.
      let value = data[pathAt]!;
      let drop = value & 0x7f;
      while (value & 0x80) {
        value = data[++pathAt]!;
        drop = ((drop + 1) << 7) | (value & 0x7f);
      }
      pathAt++;
      const nul = data.indexOf(0, pathAt);
      if (nul < 0 || nul > end || drop > pathLength) return undefined;
      const kept = pathLength - drop;
      pathLength = kept + (nul - pathAt);
      if (pathLength > pathBytes.length) pathBytes = Buffer.concat([pathBytes.subarray(0, kept)], pathLength * 2);
      data.copy(pathBytes, kept, pathAt, nul);
      path = pathBytes.toString("utf8", 0, pathLength);
      next = nul + 1;
    } else {
      const length = flags & NAME_MASK;
      const nul = length < NAME_MASK ? pathAt + length : data.indexOf(0, pathAt);
      if (nul < 0 || nul > end || data[nul] !== 0) return undefined;
      path = text.slice(pathAt, nul);
      if (NON_ASCII.test(path)) path = data.toString("utf8", pathAt, nul);
      // Entries are padded with 1-8 NULs to a multiple of 8 bytes.
      next = at + ((nul - at + 8) & ~7);
    }
    if (mode === 0o40000) return undefined; // a sparse directory entry
    index.paths[i] = path;
    index.ids[i] = hex.slice(2 * (at + 40), 2 * (at + 60));
    index.modes[i] = mode;
    if (flags & (ASSUME_VALID | STAGE_MASK) || extended & (SKIP_WORKTREE | INTENT_TO_ADD)) index.unusual.add(i);
    at = next;
  }
  // Extensions: a 4-byte signature and a 4-byte size each.
  while (at + 8 <= end) {
    const signature = data.toString("latin1", at, at + 4);
    if (signature === "link" || signature === "sdir") return undefined;
    at += 8 + data.readUInt32BE(at + 4);
  }
  return index;
}

const NON_ASCII = /[\x80-\xff]/;
