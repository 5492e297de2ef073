import { readFileSync } from "node:fs";
import type { ConfigKeySpec, JsonObject, JsonValue, PluginDefinition } from "../contracts.js";
import { SITE_SCHEMA_PATH } from "./site-schema.js";

/** A plugin's config keys, as the schema describes them: `name@version` and what it defines. */
export interface SchemaPlugin {
  id: string;
  definition: PluginDefinition;
}

/**
 * The JSON Schema of one site's stepwise.yaml: core's schema, with `config:` describing every
 * key the given plugins define (their steps', targets' and targets' steps'), both nested
 * (`email: { provider: smtp }`) and as a dot path (`email.provider: smtp`), as the site file
 * accepts either. Each key has its type, choices, default and description (naming the plugin and
 * step). Keys no plugin defines stay allowed: services refer to their own with `${config.KEY}`.
 */
export function siteSchemaWithPlugins(plugins: readonly SchemaPlugin[]): JsonObject {
  const schema = JSON.parse(readFileSync(SITE_SCHEMA_PATH, "utf8")) as JsonObject;
  // Core's $id names core's schema; this one is the site's (an editor caches schemas by $id).
  delete schema.$id;
  const properties = schema.properties as JsonObject;
  const nested: JsonObject = {};
  const flat: JsonObject = {};
  for (const { id, definition } of plugins) {
    const owners: [string, Readonly<Record<string, ConfigKeySpec>> | undefined][] = [];
    for (const step of definition.steps ?? []) owners.push([`step ${step.name}`, step.config]);
    for (const target of definition.targets ?? []) {
      owners.push([`target ${target.name}`, target.config]);
      for (const step of target.steps ?? []) owners.push([`step ${step.name}`, step.config]);
    }
    for (const [owner, config] of owners) {
      for (const [key, spec] of Object.entries(config ?? {})) {
        if (key in flat) continue; // the first owner describes a key two steps share
        const leaf = keySchema(spec, `${owner}, ${id}`);
        flat[key] = leaf;
        addNested(nested, key.split("."), leaf);
      }
    }
  }
  properties.config = { ...(properties.config as JsonObject), properties: { ...nested, ...flat } };
  return schema;
}

/** As the site file's values are coerced (config/resolve-config.ts): a string key takes a number or boolean too. */
const TYPES: Record<NonNullable<ConfigKeySpec["type"]>, JsonObject> = {
  string: { type: ["string", "number", "boolean"] },
  number: { type: "number" },
  integer: { type: "integer" },
  boolean: { type: "boolean" },
  "string[]": { type: "array", items: { type: "string" } },
};

function keySchema(spec: ConfigKeySpec, owner: string): JsonObject {
  const presets = Object.entries(spec.presets ?? {}).map(([preset, value]) => `${preset}: ${JSON.stringify(value)}`);
  const notes = [owner, ...(presets.length ? [`per preset ${presets.join(", ")}`] : []), ...(spec.env ? [`env ${spec.env}`] : []), ...(spec.required ? ["required"] : [])];
  const leaf: JsonObject = { ...TYPES[spec.type ?? "string"], description: `${spec.description} (${notes.join("; ")})` };
  if (spec.choices) leaf.enum = [...spec.choices] as JsonValue[];
  if (spec.default !== undefined) leaf.default = spec.default;
  return leaf;
}

/** Places `leaf` at `path` under objects that may be empty (only comments under them: null). */
function addNested(node: JsonObject, path: readonly string[], leaf: JsonObject): void {
  const [head, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    if (!(head in node)) node[head] = leaf;
    return;
  }
  const child = (node[head] ??= { type: ["object", "null"], properties: {} }) as JsonObject;
  // A key that is both a value and a prefix of others (`a` and `a.b`): the value wins here.
  if (typeof child.properties !== "object") return;
  addNested(child.properties as JsonObject, rest, leaf);
}
