import { readFileSync } from "node:fs";
import { witnessFile } from "../cache/plan-memo.js";
import path from "node:path";
import type { Document, Node as YamlNode } from "yaml";
import type { JsonObject, JsonValue, PresetName } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError, errorMessage } from "../errors/stepwise-error.js";
import { validateSiteSchema } from "./site-schema.js";
import { readSiteCache, writeSiteCache } from "../cache/site-parse-cache.js";
import { checkVersionCompatible, SITE_SCHEMA_VERSION } from "./version-rule.js";
import { yamlModule } from "./yaml-module.js";

export const SITE_FILE = "stepwise.yaml";

export interface PluginEntry {
  /** npm package name or a ./relative path (from the site directory). */
  name: string;
  options: JsonObject;
}

export interface WorkloadEntry {
  image?: string;
  build?: { context: string; file?: string; args?: Record<string, string | number | boolean> };
  command?: string[];
  env?: Record<string, string | number | boolean>;
  secrets?: Record<string, string>;
  volumes?: Record<string, string>;
  dependsOn?: string[];
}
export interface ServiceEntry extends WorkloadEntry {
  ports?: (string | number)[];
  healthcheck?: { command?: string[]; http?: string; intervalSeconds?: number; timeoutSeconds?: number; retries?: number };
  restart?: "always" | "on-failure" | "no";
}
export interface JobEntry extends WorkloadEntry {
  timeoutSeconds?: number;
}

/** A config value from stepwise.yaml, with where it was written. */
export interface LocatedValue {
  value: JsonValue;
  location: string;
}

export interface SiteFile {
  /** Absolute site directory. */
  dir: string;
  /** Absolute path of stepwise.yaml. */
  file: string;
  schemaVersion: string;
  name: string;
  preset: PresetName;
  plugins: PluginEntry[];
  target: string | undefined;
  state: { backend: string; options: JsonObject };
  secrets: { backend: string; options: JsonObject };
  /** Config values by dot path. */
  config: Map<string, LocatedValue>;
  steps: Record<string, { enabled?: boolean; dependsOn?: string[] }>;
  templates: { source: string; output: string } | undefined;
  services: Record<string, ServiceEntry>;
  jobs: Record<string, JobEntry>;
  /** `file:line` of a YAML path, for error messages. */
  locate(yamlPath: readonly (string | number)[]): string;
}

/** Reads, parses and validates `stepwise.yaml` in `dir`. Every problem names file, line and key. */
export function loadSite(dir: string): SiteFile {
  const siteDir = path.resolve(dir);
  const file = path.join(siteDir, SITE_FILE);
  let text: string;
  witnessFile(file);
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw errors.siteNotFound(siteDir);
    throw errors.siteUnreadable(file, error);
  }
  // An unchanged stepwise.yaml was parsed and validated by an earlier run: take its result.
  const cached = readSiteCache(siteDir, text);
  if (cached !== undefined) return siteFrom(cached as Record<string, unknown>, file, lazyLocator(text, file));
  const site = parseSite(text, file);
  writeSiteCache(siteDir, text, site.raw);
  return site;
}

/** Parses and validates stepwise.yaml's text (`file` names it in errors). */
export function parseSite(text: string, file: string): SiteFile & { raw: JsonObject } {
  const rel = path.relative(process.cwd(), file) || file;
  const { doc, locate } = parseYaml(text, file);
  const raw = documentData(doc, text, rel);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw errors.siteInvalid(rel, "expected a mapping with at least `name:` and `plugins:`", "stepwise init   (writes a starter stepwise.yaml)");
  }
  const problems = validateSiteSchema(raw);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${locate(p.path)}  ${p.path.length ? p.path.join(".") : "(top level)"}: ${p.message}`);
    throw errors.siteSchemaInvalid(rel, lines, locate(problems[0]!.path));
  }
  return { ...siteFrom(raw as Record<string, unknown>, file, locate), raw: raw as JsonObject };
}

/** The site described by a parsed stepwise.yaml that passed the schema. */
function siteFrom(site: Record<string, unknown>, file: string, locate: SiteFile["locate"]): SiteFile {
  const schemaVersion = (site.schemaVersion as string | undefined) ?? SITE_SCHEMA_VERSION;
  const versionProblem = checkVersionCompatible(SITE_SCHEMA_VERSION, schemaVersion);
  if (versionProblem) {
    throw errors.siteVersionUnsupported(locate(["schemaVersion"]), schemaVersion, SITE_SCHEMA_VERSION, versionProblem);
  }
  const config = new Map<string, LocatedValue>();
  flattenConfig((site.config as JsonObject | undefined) ?? {}, [], (key, value, yamlPath) => {
    // Computed when an error message needs it: from the cache, that parses the YAML.
    config.set(key, {
      value,
      get location() {
        return locate(["config", ...yamlPath]);
      },
    });
  });
  const templates = site.templates as { source: string; output?: string } | undefined;
  return {
    dir: path.dirname(file),
    file,
    schemaVersion,
    name: site.name as string,
    preset: (site.preset as PresetName | undefined) ?? "default",
    plugins: ((site.plugins as (string | { name: string; options?: JsonObject })[]) ?? []).map((entry) =>
      typeof entry === "string" ? { name: entry, options: {} } : { name: entry.name, options: entry.options ?? {} },
    ),
    target: site.target as string | undefined,
    state: { backend: "file", options: {}, ...(site.state as object | undefined) } as SiteFile["state"],
    secrets: { backend: "age", options: {}, ...(site.secrets as object | undefined) } as SiteFile["secrets"],
    config,
    steps: (site.steps as SiteFile["steps"] | undefined) ?? {},
    templates: templates ? { source: templates.source, output: templates.output ?? "rendered" } : undefined,
    services: (site.services as Record<string, ServiceEntry> | undefined) ?? {},
    jobs: (site.jobs as Record<string, JobEntry> | undefined) ?? {},
    locate,
  };
}

/**
 * Nested mappings become dot paths (`email: { smtp: { port: 25 } }` -> `email.smtp.port`);
 * a key may also be written as a dot path directly. Arrays and scalars are leaves.
 */
export function flattenConfig(
  value: JsonObject,
  prefix: readonly string[],
  visit: (key: string, value: JsonValue, yamlPath: string[]) => void,
): void {
  for (const [key, child] of Object.entries(value)) {
    const yamlPath = [...prefix, key];
    if (child !== null && typeof child === "object" && !Array.isArray(child)) {
      flattenConfig(child, yamlPath, visit);
    } else {
      visit(yamlPath.join("."), child, yamlPath);
    }
  }
}

/** Deeper than this, stepwise.yaml is not a site description (and recursion could overflow). */
const MAX_SITE_DEPTH = 64;
const MAX_ALIASES = 100;

/**
 * The YAML document as plain data. What the yaml package refuses or cannot turn into a tree
 * (an alias without its anchor, too many aliases, an alias inside the mapping it names,
 * nesting beyond {@link MAX_SITE_DEPTH}) is a site error naming the cause and its line.
 */
function documentData(doc: Document, text: string, rel: string): unknown {
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    const message = errorMessage(error);
    const unresolved = /Unresolved alias[^:]*: (.+)$/.exec(message);
    if (unresolved) {
      const where = lineOf(text, text.indexOf(`*${unresolved[1]}`), rel);
      throw errors.siteInvalid(where, `alias *${unresolved[1]} has no anchor &${unresolved[1]} before it`, `define &${unresolved[1]} before using *${unresolved[1]}, or write the value out, at ${where}`);
    }
    if (/alias count/i.test(message)) {
      throw errors.siteInvalid(rel, `aliases expand to too much data (more than ${MAX_ALIASES} alias uses)`, `write the values out instead of repeating *aliases in ${rel}`);
    }
    if (error instanceof RangeError) throw tooDeep(rel);
    throw errors.siteInvalid(rel, `cannot be read as data: ${message}`, `fix ${rel}`);
  }
  if (depthExceeds(data, MAX_SITE_DEPTH)) throw tooDeep(rel);
  return data;
}

function tooDeep(rel: string): StepwiseError {
  return errors.siteInvalid(rel, `nested more than ${MAX_SITE_DEPTH} levels deep, or an alias refers to a mapping that contains it`, `flatten the structure in ${rel}`);
}

/** Whether `value` nests deeper than `max` (a cycle always does); iterative, so it cannot overflow. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

function lineOf(text: string, offset: number, rel: string): string {
  return offset < 0 ? rel : `${rel}:${text.slice(0, offset).split("\n").length}`;
}

/** The YAML document and a `file:line` locator over it; throws on a syntax error, with its line. */
function parseYaml(text: string, file: string): { doc: Document; locate: SiteFile["locate"] } {
  const { LineCounter, parseDocument } = yamlModule();
  const rel = path.relative(process.cwd(), file) || file;
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(rel);
    throw errors.siteInvalid(rel, `invalid YAML: ${errorMessage(error)}`, `fix the YAML syntax in ${rel}`);
  }
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0] ?? lineCounter.linePos(first.pos[0]);
    const where = pos ? `${rel}:${pos.line}:${pos.col}` : rel;
    throw errors.siteInvalid(where, `invalid YAML: ${first.message.split("\n")[0]}`, `fix the YAML syntax at ${where}`);
  }
  const locate = (yamlPath: readonly (string | number)[]): string => {
    const node = nodeAt(doc, yamlPath);
    if (node?.range) return `${rel}:${lineCounter.linePos(node.range[0]).line}`;
    return rel;
  };
  return { doc, locate };
}

/** A locator that parses `text` on its first call (a cached site parses nothing until an error needs a line). */
function lazyLocator(text: string, file: string): SiteFile["locate"] {
  let locate: SiteFile["locate"] | undefined;
  return (yamlPath) => (locate ??= parseYaml(text, file).locate)(yamlPath);
}

function nodeAt(doc: Document, yamlPath: readonly (string | number)[]): YamlNode | undefined {
  const { isMap, isScalar, isSeq } = yamlModule();
  let node: unknown = doc.contents;
  let last: unknown = node;
  for (const [index, segment] of yamlPath.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return last as YamlNode;
      // The key's line is where a person looks for `foo: unknown key`.
      if (index === yamlPath.length - 1) return pair.key as YamlNode;
      last = pair.key;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
    } else {
      return last as YamlNode;
    }
    if (node) last = node;
  }
  return node as YamlNode | undefined;
}
