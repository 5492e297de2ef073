import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CORE_PACKAGE, CORE_VERSION, errors } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { PACKAGE_NAME } from "./package-name.js";

export interface PluginNewFlags {
  kind?: string;
  dir?: string;
}

/**
 * `stepwise plugin new NAME`: a plugin package that installs, tests green with `node --test` and
 * is discovered by a site as it is. Plain ES modules with JSDoc types (`// @ts-check`): no build
 * step, so what the author edits is what a site loads, and it loads the same linked (`npm install
 * <dir>`) or copied (a tarball); it imports `@stepwise/core` only in its tests (dev dependency).
 */
export async function pluginNewCommand(globals: GlobalOptions, name: string, flags: PluginNewFlags): Promise<void> {
  const kind = flags.kind ?? "step";
  if (kind !== "step" && kind !== "target") throw errors.usage(`--kind must be step or target, got "${kind}".`, `stepwise plugin new ${name} --kind step`);
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw errors.usage(`"${name}" is not a valid npm package name (lowercase letters, digits, - . _ ~, an optional @scope/).`, `stepwise plugin new stepwise-${kind}-${shortName(name) || "example"}`);
  }
  const parent = path.resolve(flags.dir ?? process.cwd());
  const dir = path.join(parent, name.replace(/^@[^/]+\//, ""));
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw errors.usage(`${dir} already exists and is not empty.`, `stepwise plugin new ${name} --dir <another directory>`);
  }
  const files = kind === "step" ? stepPluginFiles(name) : targetPluginFiles(name);
  // Written in a sibling temp directory, then renamed: a failure leaves no half-made package.
  mkdirSync(parent, { recursive: true });
  const temp = mkdtempSync(path.join(parent, `.${path.basename(dir)}-`));
  try {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(temp, file)), { recursive: true });
      writeFileSync(path.join(temp, file), text);
    }
    if (existsSync(dir)) rmSync(dir, { recursive: true }); // empty, checked above
    chmodSync(temp, 0o755); // mkdtemp makes it private; a package directory is not
    renameSync(temp, dir);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  const shown = path.relative(process.cwd(), dir) || ".";
  if (globals.json) {
    process.stdout.write(`${JSON.stringify({ name, kind, dir, files: Object.keys(files).sort() }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `Created ${kind} plugin ${name} in ${dir}.\n` +
      `Next:\n  cd ${shown}\n  npm install          # @stepwise/core for the tests\n  npm test             # node --test, with the conformance kit\n` +
      `Then in a site: npm install ${shown === "." ? dir : path.resolve(dir)}, list ${name} under plugins: in stepwise.yaml, and run: stepwise plan\n`,
  );
}

/** `stepwise-step-hello` → `hello`: the step's name and its config namespace. */
function shortName(name: string): string {
  const base = name.replace(/^@[^/]+\//, "").replace(/^stepwise-(?:step|target|plugin)-/, "");
  return base.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "example";
}

/** A config-key segment: `my-thing` → `myThing`. */
function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function packageJson(name: string, kind: string, description: string): string {
  const range = `^${CORE_VERSION}`;
  const pkg = {
    name,
    version: "0.1.0",
    description,
    license: "MIT",
    type: "module",
    exports: { ".": "./src/index.js", "./package.json": "./package.json" },
    files: ["src"],
    engines: { node: ">=22" },
    keywords: ["stepwise-plugin", "stepwise", kind],
    scripts: { test: "node --test" },
    peerDependencies: { [CORE_PACKAGE]: range },
    devDependencies: { [CORE_PACKAGE]: range },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const INDEX = (what: string, imports: string, list: string) => `// @ts-check
import { createRequire } from "node:module";
${imports}

/**
 * The plugin: its identity comes from package.json (meta.name must be the npm name). It imports
 * nothing from @stepwise/core at run time (types only, in JSDoc): the site's stepwise checks the
 * peerDependencies range instead, and the plugin loads the same whether npm linked or copied it.
 */
const pkg = /** @type {{ name: string, version: string }} */ (createRequire(import.meta.url)("../package.json"));

/** @type {import("@stepwise/core").PluginFactory} */
export default function plugin(options) {
  void options; // the site's \`options:\` for this plugin (none yet)
  return {
    meta: { name: pkg.name, version: pkg.version },
    ${list},
  };
}
${what}`;

function stepPluginFiles(name: string): Record<string, string> {
  const step = shortName(name);
  const ns = camel(step);
  const secret = `${step.replace(/-/g, "_")}_token`;
  const file = `${step}-step.js`;
  const stepVar = `${ns}Step`;
  return {
    "package.json": packageJson(name, "step", `stepwise plugin: the ${step} step`),
    ".gitignore": "node_modules/\n*.tgz\n",
    "src/index.js": INDEX(`export { ${stepVar} } from "./${file}";\n`, `import { ${stepVar} } from "./${file}";`, `steps: [${stepVar}]`),
    [`src/${file}`]: `// @ts-check
/**
 * @typedef {import("@stepwise/core").StepDefinition} StepDefinition
 */

/**
 * The ${step} step. It reads only what it declares (config it owns, its secret, the files its
 * globs select); stepwise hashes exactly that, runs the step when it changes and skips it
 * otherwise. \`run\` must be idempotent: run again over the same inputs, it changes nothing.
 *
 * @type {StepDefinition}
 */
export const ${stepVar} = {
  name: "${step}",
  description: "Greets from the files under ${step}/",
  // Files of the site this step reads (globs relative to the site directory).
  inputs: { files: ["${step}/**"] },
  config: {
    "${ns}.greeting": {
      description: "Word the greeting starts with",
      default: "Hello",
      presets: { "dev-mode": "Hi" },
      validate: (value) => (typeof value === "string" && value.trim() ? undefined : "must be a non-empty string"),
    },
  },
  secrets: {
    ${secret}: {
      description: "Token the ${step} service would authenticate with",
      // Generated once on the first deploy; changed only by \`stepwise secrets rotate ${secret}\`.
      generate: { length: 32, alphabet: "alnum" },
    },
  },
  // The resource kinds run() asks ctx.target for; none yet, so a site needs no target. To run a
  // container, declare ["service"] and: await ctx.target.ensure({ kind: "service", name: "${step}",
  // image: "...", secrets: { TOKEN: "${secret}" } }) (secrets go to the target by name, never by value).
  resources: [],

  async run(ctx) {
    const greeting = ctx.config.get("${ns}.greeting");
    // Say what to fix: the engine adds the plugin and step when it reports the error.
    if (typeof greeting !== "string" || !greeting.trim()) throw new Error("${ns}.greeting is empty; set it in stepwise.yaml or run: stepwise configure");
    const names = [];
    for (const file of ctx.files.list()) {
      const text = (await ctx.files.read(file)).toString("utf8").trim();
      if (text) names.push(text);
    }
    if (ctx.secrets.get("${secret}") === undefined) throw new Error("${secret} is not set; run: stepwise deploy (it is generated)");
    ctx.log.info(\`\${greeting}, \${names.length} name(s)\`);
    // Outputs: non-secret JSON that other steps read as \${outputs.${step}.*}; stored in state.
    return { message: \`\${greeting}, \${names.join(" and ") || "world"}!\`, files: [...ctx.files.list()], tokenSecret: "${secret}" };
  },
};
`,
    [`test/${step}-step.test.js`]: `// @ts-check
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createFakeStepContext, describePlugin } from "@stepwise/core/testing";
import plugin, { ${stepVar} } from "../src/index.js";

// The conformance kit: shape and meta against package.json, declared inputs, an idempotent run,
// no secret value in outputs, logs or errors. Each case runs in a fresh temp site directory.
describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "greets the names in its files", step: "${step}", files: { "${step}/a.txt": "Ada\\n", "${step}/b.txt": "Grace\\n" } },
      { name: "dev-mode, no files", step: "${step}", preset: "dev-mode" },
      { name: "refuses an empty greeting", step: "${step}", config: { "${ns}.greeting": "" }, error: /is empty/ },
    ],
  },
  { describe, it },
);

describe("${step} run", () => {
  const site = mkdtempSync(join(tmpdir(), "${step}-site-"));
  after(() => rmSync(site, { recursive: true, force: true }));

  it("greets from the declared files with the configured word", async () => {
    mkdirSync(join(site, "${step}"), { recursive: true });
    writeFileSync(join(site, "${step}", "a.txt"), "Ada\\n");
    writeFileSync(join(site, "notes.txt"), "not an input\\n");
    const { ctx } = createFakeStepContext(${stepVar}, { siteDir: site, config: { "${ns}.greeting": "Welcome" }, secrets: { ${secret}: "x".repeat(32) } });
    assert.deepEqual(await ${stepVar}.run(ctx), { message: "Welcome, Ada!", files: ["${step}/a.txt"], tokenSecret: "${secret}" });
    await assert.rejects(ctx.files.read("notes.txt"), { code: "UNDECLARED_INPUT" });
  });
});
`,
    "README.md": `# ${name}

A [stepwise](https://github.com/stepwise) plugin: the step \`${step}\`.

## Use it in a site

\`\`\`sh
npm install ${name}
\`\`\`

\`\`\`yaml
# stepwise.yaml
plugins:
  - ${name}
config:
  ${ns}:
    greeting: Hello
\`\`\`

Put the names to greet in files under \`${step}/\`, then \`stepwise plan\` and \`stepwise deploy\`.
A second deploy with nothing changed skips the step.

| Config key | Default | Meaning |
|---|---|---|
| \`${ns}.greeting\` | \`Hello\` (dev-mode: \`Hi\`) | word the greeting starts with |

| Secret | Kind | Meaning |
|---|---|---|
| \`${secret}\` | generated, 32 letters and digits | token the service would authenticate with |

Inputs: the files \`${step}/**\`. Outputs: \`message\`, \`files\`, \`tokenSecret\` (the secret's name).

## Develop

\`\`\`sh
npm install   # @stepwise/core, for the tests
npm test      # node --test: the conformance kit and the step's own tests
npm pack      # the tarball a site can install
\`\`\`

Plain ES modules with JSDoc types (\`// @ts-check\`): no build step. See stepwise's
docs/writing-a-plugin.md for the contract.
`,
  };
}

function targetPluginFiles(name: string): Record<string, string> {
  const target = shortName(name);
  const targetVar = `${camel(target)}Target`;
  const file = `${target}-target.js`;
  return {
    "package.json": packageJson(name, "target", `stepwise plugin: the ${target} target`),
    ".gitignore": "node_modules/\n*.tgz\n",
    "src/index.js": INDEX(`export { ${targetVar} } from "./${file}";\n`, `import { ${targetVar} } from "./${file}";`, `targets: [${targetVar}]`),
    [`src/${file}`]: `// @ts-check
/**
 * @typedef {import("@stepwise/core").TargetDefinition} TargetDefinition
 * @typedef {import("@stepwise/core").ResourceSpec} ResourceSpec
 * @typedef {import("@stepwise/core").ResourceResult} ResourceResult
 */
import { createHash } from "node:crypto";

/**
 * The ${target} target: where a site's resources are realised. A site picks it with
 * \`target: ${target}\`. This one realises \`secret\` resources by name only (nothing leaves the
 * machine); replace ensure/probe with calls to your platform.
 *
 * @type {TargetDefinition}
 */
export const ${targetVar} = {
  name: "${target}",
  description: "The ${target} target",
  kinds: ["secret"],
  async connect(ctx) {
    void ctx; // site, config reader, signal: connect to the platform here (lazily, once per command)
    return {
      async ensure(spec) {
        const specHash = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
        if (spec.kind !== "secret") throw new Error(\`the ${target} target cannot realise a \${spec.kind}\`);
        return { kind: "secret", name: spec.name, id: \`${target}-\${spec.name}\`, specHash, change: "unchanged", outputs: { secret: { secret: spec.name } } };
      },
      async probe() {
        return undefined; // nothing drifts: the resource exists as long as its secret does
      },
    };
  },
};
`,
    [`test/${target}-target.test.js`]: `// @ts-check
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePlugin } from "@stepwise/core/testing";
import plugin, { ${targetVar} } from "../src/index.js";

describePlugin({ plugin, packageJson: new URL("../package.json", import.meta.url) }, { describe, it });

describe("${target} target", () => {
  it("realises a secret by name, the same each time", async () => {
    const session = await ${targetVar}.connect(/** @type {any} */ ({}));
    const scope = /** @type {any} */ ({});
    const first = await session.ensure({ kind: "secret", name: "api_key" }, scope);
    assert.deepEqual(first.outputs, { secret: { secret: "api_key" } });
    assert.deepEqual(await session.ensure({ kind: "secret", name: "api_key" }, scope), first);
  });
});
`,
    "README.md": `# ${name}

A [stepwise](https://github.com/stepwise) target plugin: \`target: ${target}\`.

\`\`\`yaml
# stepwise.yaml
target: ${target}
plugins:
  - ${name}
\`\`\`

Realises: \`secret\` resources. Develop with \`npm install\` and \`npm test\` (node --test).
`,
  };
}
