import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * This package's root directory (with a trailing slash): the nearest ancestor of this module
 * holding a package.json. Files the package ships (the schema, dist/vendor, the precompiled
 * validator, the hash worker) are found from here, so a module finds them wherever the build
 * put it: in src/ for tests, in dist/, or bundled into dist/ (scripts/bundle-dist.mjs).
 */
export const PACKAGE_ROOT: URL = findPackageRoot(new URL(".", import.meta.url));

/** Whether this module runs from TypeScript sources (tests), not from the build. */
export const FROM_SOURCES: boolean = import.meta.url.endsWith(".ts");

function findPackageRoot(start: URL): URL {
  for (let dir = start; ; dir = new URL("..", dir)) {
    if (existsSync(fileURLToPath(new URL("package.json", dir)))) return dir;
    if (new URL("..", dir).href === dir.href) throw new Error(`no package.json above ${fileURLToPath(start)}`);
  }
}

/** A file of this package, by its path from the package root (`schema/stepwise.schema.json`). */
export function packageFile(relative: string): URL {
  return new URL(relative, PACKAGE_ROOT);
}
