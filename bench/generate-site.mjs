// Generates the benchmark site: 50 steps over 20,000 files / 200 MB, a local plugin, a
// stepwise.yaml, and a turbo workspace whose tasks take the same globs as inputs.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, utimesSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const STEPS = 50;
export const FILES = 20_000;
export const TOTAL_BYTES = 200 * 1024 * 1024;
const LAYOUT_VERSION = 3;

const pad = (n) => String(n).padStart(2, "0");

/** The globs of step `k` (1-based); together the steps partition every generated file. */
export function stepGlobs(k) {
  const dir = `pkg-${pad(k)}`;
  // Three shapes of glob, as real steps write them: a subtree, an extension filter, a directory level.
  return [`${dir}/src/**`, `${dir}/assets/**/*.bin`, `${dir}/*.json`];
}

/** Deterministic bytes (xorshift32), printable so the files look like text to git. */
function fill(buffer, seed) {
  let x = seed >>> 0 || 1;
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.length >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = (x & 0x3f3f3f3f) + 0x20202020;
  }
  for (let i = words.length * 4; i < buffer.length; i++) buffer[i] = 0x41;
}

/** File sizes: mostly small sources, a few large assets; sums to exactly TOTAL_BYTES. */
function sizes() {
  const out = [];
  let x = 12345;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < FILES; i++) {
    // Every 100th file is an asset of 200 KB-1.2 MB; the rest are 0.5-9 KB.
    out.push(i % 100 === 7 ? 200_000 + Math.floor(rand() * 1_000_000) : 500 + Math.floor(rand() * 8_500));
  }
  const sum = out.reduce((a, b) => a + b, 0);
  const scale = TOTAL_BYTES / sum;
  let total = 0;
  for (let i = 0; i < FILES; i++) {
    out[i] = Math.max(1, Math.floor(out[i] * scale));
    total += out[i];
  }
  out[FILES - 1] += TOTAL_BYTES - total;
  return out;
}

/** Relative path of file `i` (step = i % STEPS + 1). */
function filePath(i) {
  const k = (i % STEPS) + 1;
  const j = Math.floor(i / STEPS); // 0..399 within the step
  const dir = `pkg-${pad(k)}`;
  if (i % 100 === 7) return `${dir}/assets/a${j % 4}/asset-${j}.bin`;
  if (j < 4) return `${dir}/manifest-${j}.json`;
  return `${dir}/src/m${j % 8}/d${j % 3}/file-${j}.${j % 2 ? "ts" : "js"}`;
}

function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GIT_AUTHOR_NAME: "bench", GIT_AUTHOR_EMAIL: "bench@example.invalid", GIT_COMMITTER_NAME: "bench", GIT_COMMITTER_EMAIL: "bench@example.invalid" } }).toString();
}

/**
 * Writes the site at `dir` (a git repository) unless an identical one is already there.
 * Returns true when it was (re)generated.
 */
export function generateSite(dir, { log = () => {} } = {}) {
  const marker = path.join(dir, ".bench-layout");
  const fresh = !(existsSync(marker) && readFileSync(marker, "utf8") === String(LAYOUT_VERSION) && existsSync(path.join(dir, ".git")));
  if (fresh) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`generating ${FILES} files / ${TOTAL_BYTES / 1024 / 1024} MB in ${dir}`);
    const all = sizes();
    const buffer = Buffer.alloc(Math.max(...all));
    const old = new Date(Date.now() - 3600_000);
    const made = new Set();
    for (let i = 0; i < FILES; i++) {
      const rel = filePath(i);
      const file = path.join(dir, rel);
      const parent = path.dirname(file);
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true });
        made.add(parent);
      }
      fill(buffer, i * 2654435761 + 1);
      writeFileSync(file, buffer.subarray(0, all[i]));
      // Old mtimes: no index entry is "racily clean", as in a tree checked out a while ago.
      utimesSync(file, old, old);
    }
    writeFileSync(path.join(dir, ".gitignore"), ".stepwise/\n.turbo/\nnode_modules/\n.bench-layout\n");
    git(dir, "init", "-q", "-b", "main");
  }
  writeSiteFiles(dir);
  if (git(dir, "status", "--porcelain").trim() !== "") {
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "bench site");
  }
  git(dir, "update-index", "-q", "--refresh");
  writeFileSync(marker, String(LAYOUT_VERSION));
  return fresh;
}

/** stepwise.yaml, the local plugin of 50 steps, and the turbo workspace with the same inputs. */
function writeSiteFiles(dir) {
  const plugin = path.join(dir, "plugins", "bench-steps");
  mkdirSync(plugin, { recursive: true });
  writeFileSync(
    path.join(plugin, "package.json"),
    `${JSON.stringify({ name: "bench-steps", version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "*" } }, null, 2)}\n`,
  );
  const steps = [];
  for (let k = 1; k <= STEPS; k++) {
    steps.push(`    { name: "step-${pad(k)}", description: "bench step ${k}", inputs: { files: ${JSON.stringify(stepGlobs(k))} }, run: async () => ({ n: ${k} }) },`);
  }
  writeFileSync(
    path.join(plugin, "index.js"),
    `// 50 steps whose file inputs partition the generated tree.\nexport default {\n  meta: { name: "bench-steps", version: "1.0.0" },\n  steps: [\n${steps.join("\n")}\n  ],\n};\n`,
  );
  writeFileSync(path.join(dir, "stepwise.yaml"), `name: bench\nplugins:\n  - ./plugins/bench-steps\n`);

  const scripts = {};
  const tasks = {};
  for (let k = 1; k <= STEPS; k++) {
    scripts[`step-${pad(k)}`] = "true";
    tasks[`step-${pad(k)}`] = { inputs: stepGlobs(k), outputs: [], cache: true };
  }
  writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name: "bench-site", private: true, packageManager: "npm@10.9.2", workspaces: [], scripts }, null, 2)}\n`);
  writeFileSync(path.join(dir, "package-lock.json"), `${JSON.stringify({ name: "bench-site", lockfileVersion: 3, requires: true, packages: { "": { name: "bench-site" } } }, null, 2)}\n`);
  writeFileSync(path.join(dir, "turbo.json"), `${JSON.stringify({ $schema: "https://turborepo.com/schema.json", tasks }, null, 2)}\n`);
}

export const turboTasks = () => Array.from({ length: STEPS }, (_, i) => `step-${pad(i + 1)}`);
