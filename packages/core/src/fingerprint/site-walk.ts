import { lstatSync, readdirSync, type Dirent } from "node:fs";
import path from "node:path";
import { isIgnoredDirectory } from "./glob-selector.js";

/**
 * Lists files (regular files and symlinks, which are not followed) under `root`, a
 * site-relative directory ("" for the site), skipping `.git`, `node_modules` and
 * `.stepwise`, and directories `enter` refuses. Paths come back site-relative with POSIX
 * separators. Synchronous: one readdir per directory and no stat per file, which is the
 * cheapest walk Node offers.
 */
export function walkSiteFiles(siteDir: string, root: string, enter: (dir: string) => boolean, onFile: (file: string) => void): void {
  const start = root === "" ? siteDir : path.join(siteDir, root);
  let entries: Dirent[];
  try {
    entries = readdirSync(start, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") {
      // A glob's base can be a file ("config/app.json" has base "config", but "app.json" could be a root).
      onFile(root);
      return;
    }
    if (code === "ENOENT") return;
    throw error;
  }
  walkEntries(start, root, entries, enter, onFile);
}

function walkEntries(absolute: string, rel: string, entries: Dirent[], enter: (dir: string) => boolean, onFile: (file: string) => void): void {
  const prefix = rel === "" ? "" : `${rel}/`;
  for (const entry of entries) {
    const name = entry.name;
    const childRel = prefix + name;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile() || entry.isSymbolicLink();
    if (!isDir && !isFile && isUnknown(entry)) {
      const stat = lstatSync(path.join(absolute, name), { throwIfNoEntry: false });
      isDir = stat?.isDirectory() ?? false;
      isFile = (stat?.isFile() || stat?.isSymbolicLink()) ?? false;
    }
    if (isFile) onFile(childRel);
    else if (isDir && !isIgnoredDirectory(childRel, name) && enter(childRel)) {
      const childAbsolute = `${absolute}${path.sep}${name}`;
      let children: Dirent[];
      try {
        children = readdirSync(childAbsolute, { withFileTypes: true });
      } catch (error) {
        // Gone since it was listed: nothing under it is an input any more.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      walkEntries(childAbsolute, childRel, children, enter, onFile);
    }
  }
}

/** Some file systems report no type in readdir (DT_UNKNOWN). */
function isUnknown(entry: Dirent): boolean {
  return !entry.isBlockDevice() && !entry.isCharacterDevice() && !entry.isFIFO() && !entry.isSocket();
}
