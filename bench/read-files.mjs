#!/usr/bin/env node
// The floor under a cold plan outside git: Node opening, stat'ing, reading and closing each
// file of a NUL-separated list, on one thread, hashing nothing. Used by run.mjs as an (info) row.
// Usage: node bench/read-files.mjs LIST_FILE [BASE_DIR]
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import path from "node:path";

const [list, base = "."] = process.argv.slice(2);
const buffer = Buffer.allocUnsafe(1 << 20);
for (const file of readFileSync(list, "utf8").split("\0")) {
  if (!file) continue;
  const fd = openSync(path.join(base, file), "r");
  fstatSync(fd);
  while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  closeSync(fd);
}
