import { createRequire } from "node:module";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

/** The package name plugins declare their compatibility range against. */
export const CORE_PACKAGE: string = pkg.name;
/** The running core's version. */
export const CORE_VERSION: string = pkg.version;
