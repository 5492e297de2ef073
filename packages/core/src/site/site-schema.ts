import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { FROM_SOURCES, packageFile } from "../package-root.js";

export interface SchemaProblem {
  path: (string | number)[];
  message: string;
}

type Validator = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params: Record<string, unknown>; keyword: string }[] | null };
let validator: Validator | undefined;

/** Path of the JSON Schema for stepwise.yaml that ships with this package (editors use it too). */
export const SITE_SCHEMA_PATH = packageFile("schema/stepwise.schema.json");

/** Validates a parsed stepwise.yaml against the published JSON Schema. */
export function validateSiteSchema(data: unknown): SchemaProblem[] {
  validator ??= compile();
  if (validator(data)) return [];
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const error of validator.errors ?? []) {
    // oneOf/anyOf produce a summary error plus one per branch; the summary alone is clearer.
    if (error.keyword === "oneOf" || error.keyword === "if") continue;
    const path = error.instancePath
      .split("/")
      .slice(1)
      .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
      .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
    let message = error.message ?? "is invalid";
    if (error.keyword === "additionalProperties") {
      const extra = String(error.params.additionalProperty);
      path.push(extra);
      message = "unknown key";
    } else if (error.keyword === "enum") {
      message = `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    }
    const id = `${path.join(".")}:${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path, message });
  }
  return problems;
}

/** Where `scripts/build-site-validator.mjs` writes the precompiled validator, from the package root. */
export const PRECOMPILED_VALIDATOR = "dist/site/site-schema-validator.cjs";

/**
 * The precompiled validator when the package was built (no Ajv compiler at run time);
 * from sources (tests), Ajv compiles the schema with the same options.
 */
function compile(): Validator {
  const require = createRequire(import.meta.url);
  if (!FROM_SOURCES) {
    try {
      return require(fileURLToPath(packageFile(PRECOMPILED_VALIDATOR))) as Validator;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND" || !String((error as Error).message).includes("site-schema-validator")) throw error;
    }
  }
  return compileSchema(require);
}

/** Compiles the published schema with Ajv, as the build script does (`allErrors`, non-strict). */
export function compileSchema(require = createRequire(import.meta.url)): Validator {
  const Ajv = require("ajv") as typeof import("ajv").default;
  const schema = JSON.parse(readFileSync(SITE_SCHEMA_PATH, "utf8")) as object;
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema) as Validator;
}
