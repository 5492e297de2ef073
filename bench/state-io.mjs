#!/usr/bin/env node
// State I/O on the benchmark site (issue 15): the size of the state and its objects, the
// bytes a no-op `plan` reads from the state backend, and the bytes a 50-step
// `deploy --force-all` with unchanged files writes to it. Counted with strace (every read and
// write of a file under the site's .stepwise/, its caches apart), so it measures the file
// backend as it is, whatever the code does. Run from the repository root after a build:
// `node bench/state-io.mjs`. Prints the figures; writes nothing but bench/.work.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FILES, STEPS, generateSite } from "./generate-site.mjs";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const work = path.join(benchDir, ".work");
const site = path.join(work, "site");
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");
const log = (message) => process.stderr.write(`bench: ${message}\n`);
const stateDir = path.join(site, ".stepwise");

if (spawnSync("strace", ["-V"]).status !== 0) {
  log("needs strace (apt-get install strace) to count the bytes read and written");
  process.exit(2);
}

function stepwise(...argv) {
  const result = spawnSync(process.execPath, [cli, "-C", site, ...argv], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`stepwise ${argv.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Bytes moved by `syscalls` on files under .stepwise/ (not .stepwise/cache/) while stepwise runs `argv`. */
function countBytes(syscalls, argv) {
  const out = path.join(work, "state-io.strace");
  const result = spawnSync("strace", ["-f", "-qq", "-y", "-s", "0", "-e", `trace=${syscalls}`, "-o", out, process.execPath, cli, "-C", site, ...argv], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`stepwise ${argv.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  const byFile = new Map();
  for (const line of readFileSync(out, "utf8").split("\n")) {
    const match = /^\d+\s+\w+\(\d+<([^>]*)>.*\)\s+=\s+(\d+)/.exec(line);
    if (!match) continue;
    const [, file, bytes] = match;
    if (!file.startsWith(`${stateDir}/`) || file.startsWith(`${stateDir}/cache/`)) continue;
    const key = path.relative(stateDir, file).replace(/^objects\/.*/, "objects/*").replace(/^state\.json\.\d+$/, "state.json (temp, renamed)");
    byFile.set(key, (byFile.get(key) ?? 0) + Number(bytes));
  }
  return byFile;
}

function sizeOf(dir) {
  if (!existsSync(dir)) return { bytes: 0, count: 0 };
  let bytes = 0;
  let count = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += statSync(path.join(entry.parentPath, entry.name)).size;
    count++;
  }
  return { bytes, count };
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const total = (map) => [...map.values()].reduce((a, b) => a + b, 0);
const detail = (map) => [...map].map(([file, bytes]) => `${file} ${kb(bytes)}`).join(", ") || "nothing";

mkdirSync(work, { recursive: true });
generateSite(site, { log });
if (!/^0 to run/m.test(stepwise("plan"))) {
  log("deploying once so that plan is a no-op");
  stepwise("deploy", "--auto-approve");
}
if (!/^0 to run, 50 unchanged/m.test(stepwise("plan"))) throw new Error("plan is not a no-op after a deploy");

const load = os.loadavg();
const planRead = countBytes("read,pread64,readv", ["plan"]);
const deployWritten = countBytes("write,pwrite64,writev", ["deploy", "--force-all", "--auto-approve"]);
const state = statSync(path.join(stateDir, "state.json")).size;
const objects = sizeOf(path.join(stateDir, "objects"));
const nodeStart = spawnSync(process.execPath, ["-e", "0"]);
const rows = [
  ["state.json", kb(state), "<= 64 KB"],
  [`listing objects (${objects.count})`, kb(objects.bytes), "(not read by a no-op plan)"],
  ["read by a no-op `plan` from the state backend", `${kb(total(planRead))} (${detail(planRead)})`, "<= 64 KB"],
  [`written by \`deploy --force-all\`, ${STEPS} steps, files unchanged`, `${kb(total(deployWritten))} (${detail(deployWritten)})`, "<= 256 KB"],
];
process.stdout.write(
  [
    "",
    `State I/O, file backend: ${STEPS} steps, ${FILES.toLocaleString("en")} files; ${os.cpus().length} cores; Node ${process.version}; load average ${load.map((l) => l.toFixed(2)).join(", ")}${nodeStart.status === 0 ? "" : " (node -e 0 failed)"}.`,
    "",
    "| measurement | bytes | target |",
    "|---|---|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n"),
);
