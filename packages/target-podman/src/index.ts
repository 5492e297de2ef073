import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

/** Skeleton: filled in by the issue that builds this plugin. */
export default definePlugin({
  meta: { name: pkg.name, version: pkg.version },
  steps: [],
});
