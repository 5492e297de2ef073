import { nodeCrypto } from "../fingerprint/node-crypto.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import { listFilesRecursive } from "../files/list-files.js";
import { witnessEntry, witnessFile } from "../cache/plan-memo.js";
import { readFile, unlink, mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomically } from "../files/write-file-atomically.js";
import type { StepContext, StepDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import type { SiteFile } from "../site/load-site.js";
import { digOutputs, referenceText, stepOfReference } from "../site/references.js";
import { checkVersionCompatible } from "../site/version-rule.js";
import { CORE_VERSION } from "../version.js";

export const TEMPLATE_VERSION_FILE = ".template-version";
export const TEMPLATES_STEP = "templates";

/**
 * `${config.KEY}`, `${secret.NAME}`, `${outputs.STEP.KEY}`; `$${` writes a literal `${` whatever
 * follows it (`$${HOME}` -> `${HOME}`). Any other `${...}` is left as it is.
 */
const REFERENCE = /\$(\$)\{|\$\{\s*(config|secret|outputs)\.([A-Za-z0-9_.:-]+?)\s*\}/g;

interface TemplateFile {
  /** Path relative to the templates folder. */
  relative: string;
  /** Path relative to the site (a declared file input). */
  sitePath: string;
  text: string;
  holdsSecret: boolean;
}

/**
 * The built-in step that renders a site's versioned template folder (`templates:` in
 * stepwise.yaml) into its output folder. Its inputs are the template files and exactly the
 * config keys, secrets and upstream outputs they reference. A rendered file holding a secret
 * is written 0600. What was written is remembered as an HMAC, so a hand edit is found by the
 * drift check and reported, never silently overwritten.
 */
export function createTemplatesStep(site: SiteFile, knownSteps: ReadonlySet<string>, digest: () => Promise<(text: string) => string>): StepDefinition {
  const templates = site.templates!;
  const sourceDir = path.resolve(site.dir, templates.source);
  const outputDir = path.resolve(site.dir, templates.output);
  const relSource = path.relative(site.dir, sourceDir).split(path.sep).join("/");
  const relOutput = path.relative(site.dir, outputDir).split(path.sep).join("/");
  const folderProblem = (key: "source" | "output", dir: string, rel: string): string | undefined => {
    if (dir === site.dir) return `templates.${key} is the site folder itself; name a folder inside it, e.g. ${key === "source" ? "templates" : "rendered"}`;
    if (key === "output" && (dir === sourceDir || dir.startsWith(sourceDir + path.sep))) return `templates.output (${rel}) is inside templates.source; rendered files would become templates`;
    if (key === "source" && !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return `templates.source (${rel}) is not a folder`;
    return undefined;
  };
  for (const [key, dir, rel] of [["source", sourceDir, relSource], ["output", outputDir, relOutput]] as const) {
    const problem = folderProblem(key, dir, rel);
    if (problem) throw errors.siteInvalid(site.locate(["templates", key]), problem, `set templates.${key} in ${path.basename(site.file)} to a folder inside the site`);
  }
  // What is read here shapes the step (its inputs, its version check): witnesses of a plan (see
  // cache/plan-memo.ts), also when the folder is a link out of the work tree git lists.
  witnessFile(sourceDir);
  witnessEntry(sourceDir);
  const versionFile = path.join(sourceDir, TEMPLATE_VERSION_FILE);
  witnessFile(versionFile);
  if (!existsSync(versionFile)) {
    throw errors.templateVersionMissing(relSource, TEMPLATE_VERSION_FILE, site.locate(["templates", "source"]), CORE_VERSION);
  }
  const version = readFileSync(versionFile, "utf8").trim();
  const problem = checkVersionCompatible(CORE_VERSION, version);
  if (problem) {
    throw errors.templateTooNew(relSource, TEMPLATE_VERSION_FILE, version, CORE_VERSION, problem);
  }
  const files = listFilesRecursive(sourceDir, "", witnessFile).filter((f) => f !== TEMPLATE_VERSION_FILE).map((relative): TemplateFile => {
    witnessFile(path.join(sourceDir, relative));
    const text = readFileSync(path.join(sourceDir, relative), "utf8");
    return { relative, sitePath: `${relSource}/${relative}`, text, holdsSecret: references(text).some((r) => r.kind === "secret") };
  });
  const config = new Set<string>();
  const secrets = new Set<string>();
  const upstream = new Set<string>();
  for (const file of files) {
    for (const ref of references(file.text)) {
      if (ref.kind === "config") config.add(ref.path);
      else if (ref.kind === "secret") secrets.add(ref.path);
      else {
        const step = stepOfReference(ref.path, knownSteps);
        if (!step) {
          throw errors.outputsOfUnknownStep(file.sitePath, `\${outputs.${ref.path}}`, file.sitePath, knownSteps);
        }
        upstream.add(step);
      }
    }
  }

  const render = (file: TemplateFile, ctx: StepContext) =>
    file.text.replace(REFERENCE, (match, escape: string | undefined, kind: string, refPath: string) => {
      if (escape) return "${";
      if (kind === "config") return referenceText(ctx.config.get(refPath));
      if (kind === "secret") {
        const value = ctx.secrets.get(refPath);
        if (value === undefined) {
          throw errors.templateSecretMissing(file.sitePath, refPath);
        }
        return value;
      }
      const step = stepOfReference(refPath, knownSteps)!;
      return referenceText(digOutputs(ctx.outputs(step), refPath.slice(step.length + 1)));
    });

  const handEdited = (relative: string) =>
    errors.templateOutputChanged(`${relOutput}/${relative}`, `${relSource}/${relative}`);

  return {
    name: TEMPLATES_STEP,
    description: `render ${relSource}/ (templates ${version}) into ${relOutput}/`,
    dependsOn: [...upstream].sort(),
    inputs: { files: [`${relSource}/**`], config: [...config].sort(), secrets: [...secrets].sort() },
    // Renders files only: it asks the target for nothing (so no target key of a resource kind is its input).
    resources: [],
    async check(ctx) {
      const written = (ctx.previousOutputs?.files ?? {}) as Record<string, string>;
      const hash = await digest();
      for (const [relative, expected] of Object.entries(written)) {
        const target = path.join(outputDir, relative);
        if (!existsSync(target)) return { reason: `${relOutput}/${relative} is missing` };
        if (!sameAsWritten(await readFile(target, "utf8"), expected, hash)) return { reason: `${relOutput}/${relative} was edited by hand` };
      }
    },
    async run(ctx) {
      const written = (ctx.previousOutputs?.files ?? {}) as Record<string, string>;
      const hash = await digest();
      // Render and look for hand edits first, so a refused file leaves every other file as it was.
      const contents = files.map((file) => ({ file, content: render(file, ctx), target: path.join(outputDir, file.relative) }));
      for (const { file, content, target } of contents) {
        if (!existsSync(target)) continue;
        const onDisk = await readFile(target, "utf8");
        if (onDisk !== content && !sameAsWritten(onDisk, written[file.relative], hash)) throw handEdited(file.relative);
      }
      const rendered: Record<string, string> = {};
      for (const { file, content, target } of contents) {
        await mkdir(path.dirname(target), { recursive: true });
        await writeFileAtomically(target, content, { mode: file.holdsSecret ? 0o600 : 0o644, fsync: true });
        rendered[file.relative] = hash(content);
        ctx.log.info(`rendered ${relOutput}/${file.relative}${file.holdsSecret ? " (0600)" : ""}`);
      }
      for (const [relative, expected] of Object.entries(written)) {
        if (relative in rendered) continue;
        const target = path.join(outputDir, relative);
        if (existsSync(target) && sameAsWritten(await readFile(target, "utf8"), expected, hash)) await unlink(target);
      }
      return { dir: relOutput, version, files: rendered };
    },
  };
}

function references(text: string): { kind: "config" | "secret" | "outputs"; path: string }[] {
  return [...text.matchAll(REFERENCE)].filter((m) => !m[1]).map((m) => ({ kind: m[2] as "config" | "secret" | "outputs", path: m[3]! }));
}

/**
 * Whether `text` is what was recorded as written. The record is an HMAC with the site key, or
 * plain sha256 when the site had no secrets yet; the prefix says which, so a site that gains
 * its first secret later does not see every rendered file as edited by hand.
 */
function sameAsWritten(text: string, recorded: string | undefined, digest: (text: string) => string): boolean {
  if (recorded === undefined) return false;
  if (recorded.startsWith("sha256:")) return recorded === `sha256:${nodeCrypto().createHash("sha256").update(text).digest("hex")}`;
  return digest(text) === recorded;
}

