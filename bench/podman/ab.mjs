#!/usr/bin/env node
// A/B of stepwise alone on the benchmark site: the plugins from packages/ (A) against a patched
// build (B: DIR/target-podman, DIR/step-database), alternated run by run so both see the same load.
// Run bench/podman/run.mjs once first (it builds the images and generates the site).
//   node bench/podman/ab.mjs --plugins DIR [--runs N]      (default 7 cold and 15 no-op pairs)
import { spawnSync } from "node:child_process";
import { rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const work = path.join(root, "bench", ".work", "podman");
const site = path.join(work, "site");
const args = process.argv.slice(2);
const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
if (!value("--plugins")) {
  process.stderr.write("usage: node bench/podman/ab.mjs --plugins DIR [--runs N]\n");
  process.exit(2);
}
const variants = { A: path.join(root, "packages"), B: path.resolve(value("--plugins")) };
const RUNS = Number(value("--runs") ?? 7);
const env = {
  ...process.env,
  CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? path.join(root, "scripts", "podman", "containers.conf"),
  STEPWISE_PODMAN_SOCKET: process.env.STEPWISE_PODMAN_SOCKET ?? path.join(work, "svc", "podman.sock"),
  CI: "1",
};
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");

function link(dir) {
  const scope = path.join(site, "node_modules", "@stepwise");
  for (const plugin of ["target-podman", "step-database"]) {
    rmSync(path.join(scope, plugin), { force: true, recursive: true });
    symlinkSync(path.relative(scope, path.join(dir, plugin)), path.join(scope, plugin));
  }
}
function stepwise(...argv) {
  const start = performance.now();
  const r = spawnSync(process.execPath, [cli, ...argv, "-C", site], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`stepwise ${argv.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return performance.now() - start;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const times = { cold: { A: [], B: [] }, noop: { A: [], B: [] } };

stepwise("down", "--volumes", "--auto-approve", "--no-final-backup");
for (let i = 0; i < RUNS + 1; i++) {
  for (const v of i % 2 ? ["B", "A"] : ["A", "B"]) {
    link(variants[v]);
    const ms = stepwise("deploy", "--auto-approve");
    stepwise("down", "--volumes", "--auto-approve", "--no-final-backup");
    if (i > 0) times.cold[v].push(ms);
    process.stderr.write(`cold ${v} ${ms.toFixed(0)} ms\n`);
  }
}
stepwise("deploy", "--auto-approve");
for (let i = 0; i < 2 * RUNS + 1; i++) {
  for (const v of i % 2 ? ["B", "A"] : ["A", "B"]) {
    link(variants[v]);
    const ms = stepwise("deploy", "--auto-approve");
    if (i > 0) times.noop[v].push(ms);
  }
}
stepwise("down", "--volumes", "--auto-approve", "--no-final-backup");
link(variants.A);
for (const kind of ["cold", "noop"]) {
  const a = median(times[kind].A);
  const b = median(times[kind].B);
  const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(" ");
  process.stdout.write(`${kind}: A (packages/) median ${a.toFixed(0)} ms [${fmt(times[kind].A)}]; B (${value("--plugins")}) median ${b.toFixed(0)} ms [${fmt(times[kind].B)}]; B saves ${(a - b).toFixed(0)} ms (${(((a - b) / a) * 100).toFixed(0)}%)\n`);
}
