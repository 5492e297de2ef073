import { mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomically } from "../files/write-file-atomically.js";
import type { Document } from "yaml";
import { yamlModule } from "../site/yaml-module.js";
import type { ConfigKeySpec, JsonValue } from "../contracts.js";
import { coerceConfigValue } from "../config/resolve-config.js";
import { errors } from "../errors/error-codes.js";
import type { SiteSession } from "../engine/site-session.js";
import { STATE_DIR } from "../state/file-state-backend.js";

/** One thing `configure` may ask. */
export interface Question {
  kind: "config" | "secret";
  /** Config dot path or secret name. */
  key: string;
  /** Step (or target) that owns it. */
  owner: string;
  prompt: string;
  description: string;
  required: boolean;
  /** Config only: the value it would have if not answered (default or preset). */
  current?: JsonValue;
  spec?: ConfigKeySpec;
}

/** What an interrupted `configure` had done, saved after every answer (`.stepwise/configure.json`). */
export interface ConfigureProgress {
  version: 1;
  startedAt: string;
  answered: string[];
  /** User-provided secrets skipped "for now". */
  skipped: string[];
  /**
   * Started with `--reset` (or "start over"): settings already in stepwise.yaml are asked
   * again, with their saved values as defaults, instead of counting as answered.
   */
  askAll?: boolean;
  completedAt?: string;
}

export function progressFile(siteDir: string): string {
  return path.join(siteDir, STATE_DIR, "configure.json");
}

export async function readProgress(siteDir: string): Promise<ConfigureProgress | undefined> {
  try {
    const progress = JSON.parse(await readFile(progressFile(siteDir), "utf8")) as ConfigureProgress;
    return progress.version === 1 ? progress : undefined;
  } catch {
    return undefined;
  }
}

export async function writeProgress(siteDir: string, progress: ConfigureProgress): Promise<void> {
  mkdirSync(path.join(siteDir, STATE_DIR), { recursive: true, mode: 0o700 });
  await writeFileAtomically(progressFile(siteDir), `${JSON.stringify(progress, null, 2)}\n`, { mode: 0o644 });
}

/**
 * Reads the progress file again, applies `change` and writes it; call it under the site lock.
 * While the file still holds `mine`'s session (same start), what other runs recorded in it
 * since is kept; a file of another session is replaced by `mine`. Returns what was written.
 */
export async function updateProgress(siteDir: string, mine: ConfigureProgress, change: (progress: ConfigureProgress) => void = () => {}): Promise<ConfigureProgress> {
  const onDisk = await readProgress(siteDir);
  const progress = onDisk && onDisk.startedAt === mine.startedAt ? onDisk : mine;
  change(progress);
  await writeProgress(siteDir, progress);
  return progress;
}

export function newProgress(options: { askAll?: boolean } = {}): ConfigureProgress {
  return { version: 1, startedAt: new Date().toISOString(), answered: [], skipped: [], ...(options.askAll ? { askAll: true } : {}) };
}

/**
 * Every question that applies now, in the order `configure` asks them: required config, then
 * required secrets, then optional config, then optional secrets; within each group in step
 * order. `done` tells whether it was already answered (in the file, env, `--set`, this
 * session) or, for secrets, set or skipped. A value that is set but invalid is not done, so
 * `configure` asks for it again. In an `askAll` session only this session's answers, env and
 * `--set` count (env and `--set` would shadow whatever is answered).
 */
export async function listQuestions(session: SiteSession, progress: ConfigureProgress): Promise<(Question & { done: boolean })[]> {
  const order = new Map(session.graph.order.map((name, i) => [name, i]));
  const rank = (owner: string) => order.get(owner) ?? -1;
  const invalid = new Set(session.config.problems.map((p) => p.key));
  const config = session.ownedConfig
    .filter((o) => o.spec.prompt && !session.config.isInactive(o.key))
    .map((o) => {
      const source = session.config.source(o.key)?.kind;
      const given = source === "env" || source === "set" || (source === "file" && !progress.askAll);
      return {
        kind: "config" as const,
        key: o.key,
        owner: o.owner,
        prompt: o.spec.prompt!,
        description: o.spec.description,
        required: o.spec.required === true,
        current: session.config.get(o.key),
        spec: o.spec,
        done: !invalid.has(o.key) && (progress.answered.includes(o.key) || given),
      };
    });
  const secrets = (await session.secretStatus())
    .filter((s) => !s.spec.generate && s.applies)
    .map((s) => ({
      kind: "secret" as const,
      key: s.name,
      owner: s.owner,
      prompt: s.spec.prompt ?? s.spec.description,
      description: s.spec.description,
      required: s.spec.required !== false,
      done: s.set || progress.skipped.includes(s.name),
    }));
  const group = (q: Question) => (q.required ? 0 : 2) + (q.kind === "secret" ? 1 : 0);
  return [...config, ...secrets].sort((a, b) => group(a) - group(b) || rank(a.owner) - rank(b.owner));
}

/** Checks an answer typed as text; returns the coerced value or what is wrong with it. */
export function checkAnswer(question: Question, text: string, session: SiteSession): { value: JsonValue } | { error: string } {
  const spec = question.spec!;
  const coerced = coerceConfigValue(text, spec.type, true);
  if ("error" in coerced && coerced.error !== undefined) return { error: coerced.error };
  const value = coerced.value as JsonValue;
  if (spec.choices && !spec.choices.some((c) => JSON.stringify(c) === JSON.stringify(value))) {
    return { error: `must be one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}` };
  }
  const problem = spec.validate?.(value, session.config);
  return problem ? { error: problem } : { value };
}

/**
 * Writes one config value into stepwise.yaml under `config:`, keeping comments, key order and
 * layout (the YAML document is edited, not regenerated), atomically. What it adds is block
 * style, as a person writes YAML: an empty `config:` or a `config: {}` placeholder becomes a
 * block mapping (with the comments below it kept above the new keys); a mapping the user wrote
 * in flow style (`email: { provider: smtp }`) stays flow, and keys added inside it too.
 */
export async function saveConfigValue(siteFile: string, key: string, value: JsonValue): Promise<void> {
  const { isMap, isScalar, parseDocument } = yamlModule();
  const text = readFileSync(siteFile, "utf8");
  const doc = parseDocument(text);
  const existing = doc.get("config", true);
  if (isMap(existing) && existing.flow && existing.items.length === 0) {
    existing.flow = false;
    // Comments under `config: {}` (init's examples) go above the keys, where they were written.
    existing.commentBefore = joinComments(existing.commentBefore, existing.comment);
    existing.comment = undefined;
  } else if (!isMap(existing)) {
    const replacement = doc.createNode({});
    replacement.flow = false;
    // `config:` with nothing but comments below it is a null scalar that holds those comments.
    if (isScalar(existing) && existing.value === null) replacement.commentBefore = joinComments(existing.commentBefore, existing.comment);
    doc.set("config", replacement);
  }
  const config = doc.get("config");
  const segments = key.split(".");
  // A key already written as a dot path ("email.smtp.port": 25) is updated in place.
  if (isMap(config) && config.items.some((item) => isScalar(item.key) && item.key.value === key)) {
    setKeepingComments(doc, ["config", key], value);
  } else {
    let path: string[] = ["config"];
    for (const segment of segments.slice(0, -1)) {
      path = [...path, segment];
      const node = doc.getIn(path, true);
      if (node !== undefined && !isMap(node)) {
        throw errors.siteKeyNotSaved(siteFile, key, path.join("."));
      }
    }
    setKeepingComments(doc, ["config", ...segments], value);
  }
  await writeFileAtomically(siteFile, doc.toString(writtenStyle(doc, text)));
}

/**
 * Lists plugin `name` under `plugins:` in stepwise.yaml, keeping comments, order and layout as
 * {@link saveConfigValue} does, atomically. A `plugins:` with only comments under it (init's
 * examples) becomes a block list with the comments kept above the entry; a flow list stays
 * flow. Returns false, writing nothing, when the name is listed already (alone or with options).
 */
export async function savePluginEntry(siteFile: string, name: string): Promise<boolean> {
  const { isMap, isScalar, isSeq, parseDocument, Scalar } = yamlModule();
  const text = readFileSync(siteFile, "utf8");
  const doc = parseDocument(text);
  const existing = doc.get("plugins", true);
  const entry = new Scalar(name);
  // As init writes them: a scoped name in double quotes (an unquoted @ is not YAML).
  if (name.startsWith("@")) entry.type = "QUOTE_DOUBLE";
  if (isSeq(existing)) {
    const listed = existing.items.some((item) => (isScalar(item) ? item.value === name : isMap(item) && item.get("name") === name));
    if (listed) return false;
    existing.items.push(entry);
  } else {
    const empty = isScalar(existing) && existing.value === null;
    if (empty) {
      // `plugins:` with only comments under it (init's examples): yaml gives the null value all
      // the comment lines below the key, indented or not, and drops the blank line after them;
      // so the entry is written as a line after the indented ones, and the result checked.
      const edited = withListEntry(text, "plugins", entryText(name));
      if (edited !== undefined && isSeq(parseDocument(edited).get("plugins", true))) {
        await writeFileAtomically(siteFile, edited);
        return true;
      }
    }
    const list = doc.createNode([entry]);
    list.flow = false;
    if (empty) list.commentBefore = joinComments(existing.commentBefore, existing.comment);
    doc.set("plugins", list);
  }
  await writeFileAtomically(siteFile, doc.toString(writtenStyle(doc, text)));
  return true;
}

/**
 * The layout the file was written in, so that what the edit did not touch prints as it was:
 * the indent, `[a]` or `[ a ]`, and long strings on one line (yaml folds at 80 by default).
 */
function writtenStyle(doc: Document, text: string): { indent: number; flowCollectionPadding: boolean; lineWidth: number } {
  const { isCollection, visit } = yamlModule();
  let padded = 0;
  let tight = 0;
  visit(doc, (_key, node) => {
    if (!isCollection(node) || !node.flow || node.items.length === 0 || !node.range) return;
    if (/\s/.test(text[node.range[0] + 1] ?? " ")) padded++;
    else tight++;
  });
  const indents = text
    .split("\n")
    .filter((line) => /^ +[^\s#]/.test(line))
    .map((line) => line.length - line.trimStart().length);
  return { indent: indents.length ? Math.min(...indents) : 2, flowCollectionPadding: tight === 0 || padded > tight, lineWidth: 0 };
}

/** `name` as a YAML list item's text: plain when safe, else double-quoted (JSON is valid YAML). */
function entryText(name: string): string {
  return /^[a-z0-9][a-z0-9._~/-]*$/.test(name) ? name : JSON.stringify(name);
}

/**
 * `text` with `- item` added under a top-level `key:` that has no value, after the indented
 * comment lines right below it (at their indent); undefined when `key:` is not written so.
 */
function withListEntry(text: string, key: string, item: string): string | undefined {
  const lines = text.split("\n");
  const at = lines.findIndex((line) => new RegExp(`^${key}:\\s*(#.*)?$`).test(line));
  if (at < 0) return undefined;
  let end = at + 1;
  while (end < lines.length && /^\s+#/.test(lines[end]!)) end++;
  const indent = end > at + 1 ? /^\s+/.exec(lines[at + 1]!)![0] : "  ";
  return [...lines.slice(0, end), `${indent}- ${item}`, ...lines.slice(end)].join("\n");
}

function joinComments(...comments: (string | null | undefined)[]): string | undefined {
  const present = comments.filter((c): c is string => typeof c === "string" && c !== "");
  return present.length ? present.join("\n") : undefined;
}

/** Replaces a scalar's value in place (its comments stay with it); anything else is set anew. */
function setKeepingComments(doc: Document, yamlPath: string[], value: JsonValue): void {
  const node = doc.getIn(yamlPath, true);
  if (yamlModule().isScalar(node) && (value === null || typeof value !== "object")) {
    node.value = value;
    // A quoted style chosen for a string would be wrong for a number or boolean.
    if (typeof value !== "string") node.type = undefined;
  } else {
    doc.setIn(yamlPath, value);
  }
}
