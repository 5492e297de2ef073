import { createRequire } from "node:module";

type Yaml = typeof import("yaml");
let yaml: Yaml | undefined;

/**
 * The `yaml` package, loaded on first use. It is about 70 modules (13 ms here), and a run whose
 * stepwise.yaml is unchanged since its last parse reads the cached result instead
 * (site-cache.ts): only a changed file, an error's line number or `configure` loads it.
 */
export function yamlModule(): Yaml {
  return (yaml ??= createRequire(import.meta.url)("yaml") as Yaml);
}
