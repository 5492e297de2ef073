#!/usr/bin/env node
// State I/O (issue 15): the size of the state and its objects, the bytes a no-op `plan` reads
// from the state backend, and the bytes a `deploy` writes to it, counted with strace (every
// read and write of a file under the site's .stepwise/, its caches apart), so it measures the
// file backend as it is, whatever the code does. Three parts:
//   1. the 50-step bench site (bench/.work/site): no-op plan reads, `deploy --force-all` writes;
//   2. a copy of it (bench/.work/site-changed, so the shared site stays clean) in which every
//      file changed, then one directory: bytes a deploy writes against the new listings;
//   3. a generated 200-step, 100,000-file site (bench/.work/site-200): state size, no-op plan
//      bytes and time beside `git status` (interleaved), deploy writes with files unchanged and
//      with one directory changed.
// Run from the repository root after a build: `node bench/state-io.mjs [--runs N] [--skip-large]`.
// Prints the figures; writes nothing but bench/.work.
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FILES, STEPS, generateSite } from "./generate-site.mjs";
import { interleaved, median } from "./interleave.mjs";
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const work = path.join(benchDir, ".work");
const site = path.join(work, "site");
const changedSite = path.join(work, "site-changed");
const LARGE = { steps: 200, files: 100_000, totalBytes: 120 * 1024 * 1024 };
const largeSite = path.join(work, `site-${LARGE.steps}`);
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");
const log = (message) => process.stderr.write(`bench: ${message}\n`);
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 15;
const skipLarge = argv.includes("--skip-large");
// This bench counts the state backend's bytes and times the plan that reads them: no site
// watcher (bench/run.mjs measures it), so none is left running on these sites afterwards.
process.env.STEPWISE_WATCH = "0";

if (spawnSync("strace", ["-V"]).status !== 0) {
  log("needs strace (apt-get install strace) to count the bytes read and written");
  process.exit(2);
}

function stepwise(dir, ...args) {
  const result = spawnSync(process.execPath, [cli, "-C", dir, ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`stepwise ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

function sh(cwd, command, ...args) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Bytes moved by `syscalls` on files under dir/.stepwise/ (not .stepwise/cache/) while stepwise runs `args`. */
function countBytes(dir, syscalls, args) {
  const stateDir = path.join(dir, ".stepwise");
  const out = path.join(work, "state-io.strace");
  const result = spawnSync("strace", ["-f", "-qq", "-y", "-s", "0", "-e", `trace=${syscalls}`, "-o", out, process.execPath, cli, "-C", dir, ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`stepwise ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  const byFile = new Map();
  for (const line of readFileSync(out, "utf8").split("\n")) {
    const match = /^\d+\s+\w+\(\d+<([^>]*)>.*\)\s+=\s+(\d+)/.exec(line);
    if (!match) continue;
    const [, file, bytes] = match;
    if (!file.startsWith(`${stateDir}/`) || file.startsWith(`${stateDir}/cache/`)) continue;
    const key = path
      .relative(stateDir, file)
      .replace(/^objects\/.*/, "objects/*")
      .replace(/^state\.json\..+$/, "state.json (temp, renamed)")
      .replace(/^state\.lock\..+$/, "state.lock (temp, renamed)");
    byFile.set(key, (byFile.get(key) ?? 0) + Number(bytes));
  }
  return { byFile, stdout: result.stdout };
}

/** Files under `dir` (recursive): path -> size. */
function filesOf(dir) {
  const out = new Map();
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(file, statSync(file).size);
  }
  return out;
}
const sum = (values) => [...values].reduce((a, b) => a + b, 0);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const detail = (map) => [...map].map(([file, bytes]) => `${file} ${kb(bytes)}`).join(", ") || "nothing";
const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(", ");

/** Makes `dir`'s plan a no-op (a deploy if needed) and checks it is one. */
function settle(dir, steps) {
  if (!new RegExp(`^0 to run, ${steps} unchanged`, "m").test(stepwise(dir, "plan"))) {
    log(`deploying ${dir} once so that plan is a no-op`);
    stepwise(dir, "deploy", "--auto-approve");
  }
  if (!new RegExp(`^0 to run, ${steps} unchanged`, "m").test(stepwise(dir, "plan"))) throw new Error(`plan in ${dir} is not a no-op after a deploy`);
}

/** Appends a line to every file under `dir` of the given relative paths; returns how many. */
function touch(dir, files, stamp) {
  for (const rel of files) appendFileSync(path.join(dir, rel), `// changed ${stamp}\n`);
  return files.length;
}

/** Bytes a `deploy` writes after `change()`, with the listing objects it created (by name, not by I/O). */
function deployAfter(dir, change, args = []) {
  const before = filesOf(path.join(dir, ".stepwise", "objects"));
  const changed = change();
  const { byFile, stdout } = countBytes(dir, "write,pwrite64,writev", ["deploy", "--auto-approve", ...args]);
  const after = filesOf(path.join(dir, ".stepwise", "objects"));
  const created = [...after].filter(([file]) => !before.has(file));
  const ran = /(\d+) ran/.exec(stdout)?.[1] ?? "?";
  return { changed, written: byFile, newObjects: { count: created.length, bytes: sum(created.map(([, size]) => size)) }, ran };
}

function stateFigures(dir) {
  const state = statSync(path.join(dir, ".stepwise", "state.json")).size;
  const objects = filesOf(path.join(dir, ".stepwise", "objects"));
  return { state, objects: { count: objects.size, bytes: sum(objects.values()) } };
}

mkdirSync(work, { recursive: true });
const out = [];
const row = (...cells) => out.push(`| ${cells.join(" | ")} |`);
const commit = sh(root, "git", "rev-parse", "--short", "HEAD").trim();
const loadAtStart = loadavg();

// 1. The 50-step site.
generateSite(site, { log });
settle(site, STEPS);
const base = stateFigures(site);
const planRead = countBytes(site, "read,pread64,readv", ["plan"]).byFile;
const forceAll = countBytes(site, "write,pwrite64,writev", ["deploy", "--force-all", "--auto-approve"]).byFile;

// 2. Every file changed, then one directory, on a copy of the 50-step site.
log(`copying the site to ${changedSite}`);
rmSync(changedSite, { recursive: true, force: true });
sh(work, "cp", "-a", site, changedSite);
const stepFiles = sh(changedSite, "git", "ls-files", "-z", "--", "pkg-*").split("\0").filter(Boolean);
const stamp = new Date().toISOString();
const allChanged = deployAfter(changedSite, () => touch(changedSite, stepFiles, stamp));
const oneDir = `pkg-01/src/m0/d0/`;
const oneChanged = deployAfter(changedSite, () => touch(changedSite, stepFiles.filter((f) => f.startsWith(oneDir)), stamp));
rmSync(changedSite, { recursive: true, force: true });

out.push(
  "",
  `State I/O, file backend: ${STEPS} steps, ${FILES.toLocaleString("en")} files; commit ${commit}; ${os.cpus().length} cores; Node ${process.version}; load average at start ${loadAtStart}.`,
  "",
  "| measurement | bytes | target |",
  "|---|---|---|",
);
row("state.json", kb(base.state), "<= 64 KB");
row(`listing objects (${base.objects.count})`, kb(base.objects.bytes), "(not read by a no-op plan)");
row("read by a no-op `plan` from the state backend", `${kb(sum(planRead.values()))} (${detail(planRead)})`, "<= 64 KB");
row(`written by \`deploy --force-all\`, ${STEPS} steps, files unchanged`, `${kb(sum(forceAll.values()))} (${detail(forceAll)})`, "<= 256 KB");
row(
  `written by \`deploy\` after every file changed (${allChanged.changed.toLocaleString("en")} files, ${allChanged.ran} steps ran)`,
  `${kb(sum(allChanged.written.values()))} (${detail(allChanged.written)}); new listing objects: ${allChanged.newObjects.count}, ${kb(allChanged.newObjects.bytes)}`,
  `<= new listings + 256 KB = ${kb(allChanged.newObjects.bytes + 256 * 1024)}: ${sum(allChanged.written.values()) <= allChanged.newObjects.bytes + 256 * 1024 ? "met" : "**not met**"}`,
);
row(
  `written by \`deploy\` after one directory changed (\`${oneDir}\`, ${oneChanged.changed} files, ${oneChanged.ran} step ran)`,
  `${kb(sum(oneChanged.written.values()))} (${detail(oneChanged.written)}); new listing objects: ${oneChanged.newObjects.count}, ${kb(oneChanged.newObjects.bytes)}`,
  "(info)",
);

// 3. The 200-step, 100,000-file site.
if (!skipLarge) {
  generateSite(largeSite, { log, ...LARGE });
  sh(largeSite, "git", "checkout", "-q", "--", ".");
  settle(largeSite, LARGE.steps);
  const large = stateFigures(largeSite);
  const largeRead = countBytes(largeSite, "read,pread64,readv", ["plan"]).byFile;
  const load = loadavg();
  const [plan, status, node] = interleaved(
    [() => stepwise(largeSite, "plan"), () => sh(largeSite, "git", "status", "--porcelain"), () => sh(largeSite, process.execPath, "-e", "0")],
    runs,
  ).map(median);
  const loadAfter = loadavg();
  const largeForce = countBytes(largeSite, "write,pwrite64,writev", ["deploy", "--force-all", "--auto-approve"]).byFile;
  const largeFiles = sh(largeSite, "git", "ls-files", "-z", "--", "pkg-*").split("\0").filter(Boolean);
  const largeDir = `pkg-001/src/m0/d0/`;
  const largeOne = deployAfter(largeSite, () => touch(largeSite, largeFiles.filter((f) => f.startsWith(largeDir)), stamp));
  sh(largeSite, "git", "checkout", "-q", "--", ".");
  const tree = sum(filesOf(largeSite).values()) - sum(filesOf(path.join(largeSite, ".git")).values()) - sum(filesOf(path.join(largeSite, ".stepwise")).values());
  out.push(
    "",
    `Large site, file backend: ${LARGE.steps} steps, ${LARGE.files.toLocaleString("en")} files, ${mb(tree)} (work tree); load average ${load} before timing, ${loadAfter} after; median of ${runs} interleaved runs.`,
    "",
    `| measurement | ${STEPS} steps, ${FILES.toLocaleString("en")} files | ${LARGE.steps} steps, ${LARGE.files.toLocaleString("en")} files |`,
    "|---|---|---|",
  );
  row("state.json", kb(base.state), kb(large.state));
  row("state.json per step", kb(base.state / STEPS), kb(large.state / LARGE.steps));
  row("listing objects", `${base.objects.count}, ${kb(base.objects.bytes)}`, `${large.objects.count}, ${kb(large.objects.bytes)}`);
  row("read by a no-op `plan` from the state backend", kb(sum(planRead.values())), `${kb(sum(largeRead.values()))} (${detail(largeRead)})`);
  row("written by `deploy --force-all`, files unchanged", kb(sum(forceAll.values())), `${kb(sum(largeForce.values()))} (${detail(largeForce)})`);
  row(
    "written by `deploy` after one directory changed",
    `${kb(sum(oneChanged.written.values()))} (${oneChanged.changed} files)`,
    `${kb(sum(largeOne.written.values()))} (${largeOne.changed} files, ${largeOne.ran} step ran; ${detail(largeOne.written)}; new listing objects ${largeOne.newObjects.count}, ${kb(largeOne.newObjects.bytes)})`,
  );
  row("no-op `plan` time / `git status` time", "(bench/run.mjs)", `${plan.toFixed(1)} ms / ${status.toFixed(1)} ms = ${(plan / status).toFixed(2)}x (node -e 0: ${node.toFixed(1)} ms)`);
}
out.push("");
process.stdout.write(out.join("\n"));
