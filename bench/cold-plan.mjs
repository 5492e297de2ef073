#!/usr/bin/env node
// Cold `plan` in a git work tree (issue 15: >= 3x sha256sum's throughput), with the phase times of
// STEPWISE_TRACE=1 beside a no-op plan's, to see where a cold plan spends what a warm one does not.
// Interleaved run by run: cold plan (.stepwise/cache removed before, outside the timing), no-op
// plan, `sha256sum` of the same files, `git status`. Run after bench/run.mjs or bench/state-io.mjs
// generated bench/.work/site: `node bench/cold-plan.mjs [--runs N]`.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TOTAL_BYTES } from "./generate-site.mjs";
import { median } from "./interleave.mjs";
// Measured as before the site watcher (bench/run.mjs measures it): none is started or asked.
process.env.STEPWISE_WATCH = "0";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const site = path.join(benchDir, ".work", "site");
const cli = path.join(path.dirname(benchDir), "apps", "cli", "bin", "stepwise.js");
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 15;
const env = { ...process.env, STEPWISE_TRACE: "1" };
const fileList = path.join(benchDir, ".work", "cold-plan.files");
writeFileSync(fileList, spawnSync("git", ["ls-files", "-z", "pkg-*"], { cwd: site }).stdout);

const run = (command, args) => {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: site, env, encoding: "utf8", maxBuffer: 1 << 28 });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`);
  const phases = new Map([...result.stderr.matchAll(/trace\s+([\d.]+) ms {2}(.+)/g)].map((m) => [m[2], Number(m[1])]));
  return { wall, phases };
};
const variants = [
  ["cold `stepwise plan` (git work tree, no .stepwise/cache)", () => (rmSync(path.join(site, ".stepwise", "cache"), { recursive: true, force: true }), () => run(process.execPath, [cli, "plan"]))],
  ["no-op `stepwise plan`", () => () => run(process.execPath, [cli, "plan"])],
  ["`sha256sum` of the same files", () => () => run("sh", ["-c", `xargs -0 sha256sum < '${fileList}' > /dev/null`])],
  ["`git status`", () => () => run("git", ["status", "--porcelain"])],
];
const samples = variants.map(() => []);
for (const [, prepare] of variants) prepare()();
const load = os.loadavg();
for (let r = 0; r < runs; r++) {
  for (let c = 0; c < variants.length; c++) {
    const i = (c + r) % variants.length;
    samples[i].push(variants[i][1]()());
  }
}
const loadAfter = os.loadavg();
// The cold plan leaves a warm cache behind; one more no-op plan puts the site back as it was.
run(process.execPath, [cli, "plan"]);
const wall = samples.map((list) => median(list.map((s) => s.wall)));
const phase = (i, label) => median(samples[i].map((s) => s.phases.get(label) ?? NaN));
const mbps = (ms) => `${(TOTAL_BYTES / 1024 / 1024 / (ms / 1000)).toFixed(0)} MB/s`;
const labels = [...samples[0][0].phases.keys()];
process.stdout.write(
  [
    "",
    `Cold plan, bench/.work/site; ${runs} interleaved runs; Node ${process.version}; load average ${load.map((l) => l.toFixed(2)).join(", ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(", ")} after.`,
    "",
    "| command | median | ratio |",
    "|---|---|---|",
    ...variants.map(([name], i) => `| ${name} | ${wall[i].toFixed(1)} ms | ${i === 2 ? "" : `sha256sum / this: ${(wall[2] / wall[i]).toFixed(2)}x`}${i < 2 ? ` (${mbps(wall[i])} vs ${mbps(wall[2])})` : ""} |`),
    "",
    "| phase (STEPWISE_TRACE, ms since start) | cold | no-op |",
    "|---|---|---|",
    ...labels.map((label) => `| ${label} | ${phase(0, label).toFixed(1)} | ${Number.isNaN(phase(1, label)) ? "-" : phase(1, label).toFixed(1)} |`),
    "",
  ].join("\n"),
);
