import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { packageFile } from "../package-root.js";

type Yaml = typeof import("yaml");
let yaml: Yaml | undefined;

/**
 * The `yaml` package, loaded on first use: a run whose stepwise.yaml is unchanged since its
 * last parse reads the cached result instead (site-cache.ts), so only a changed file, an
 * error's line number or `configure` loads it. The build pre-bundles it into one file
 * (`dist/vendor/yaml.cjs`, scripts/bundle-vendor.mjs); from sources, the package itself.
 */
export function yamlModule(): Yaml {
  if (yaml) return yaml;
  const require = createRequire(import.meta.url);
  try {
    yaml = require(fileURLToPath(packageFile("dist/vendor/yaml.cjs"))) as Yaml;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    yaml = require("yaml") as Yaml;
  }
  return yaml;
}
