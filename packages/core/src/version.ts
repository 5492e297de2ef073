import { readFileSync } from "node:fs";
import { packageFile } from "./package-root.js";

const pkg = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { name: string; version: string };

/** The package name plugins declare their compatibility range against. */
export const CORE_PACKAGE: string = pkg.name;
/** The running core's version. */
export const CORE_VERSION: string = pkg.version;
