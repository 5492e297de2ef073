#!/usr/bin/env node
// Item 4 of issue 15, measured: a no-op `plan` on bench/.work/site started four ways, run by run
// interleaved (order rotating): today's CLI (apps/cli/bin/stepwise.js, V8 compile cache), the
// esbuild bundle of CLI + core as one CJS file (without and with Node's compile cache), that bundle as a V8 start-up snapshot
// (`--snapshot-blob`), and `node -e 0`. Prints the median wall time and the median "cli loaded"
// and "git started" (STEPWISE_TRACE=1) of each, with the load average.
// Run after `STEPWISE_TRACE=1 node bench/startup/build-snapshot.mjs`:
// `node bench/startup/measure.mjs [--runs N]`.
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
// Measured as before the site watcher (bench/run.mjs measures it): none is started or asked.
process.env.STEPWISE_WATCH = "0";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const site = path.join(root, "bench", ".work", "site");
const out = path.join(root, "bench", ".work", "startup");
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 20;
const env = { ...process.env, STEPWISE_TRACE: "1", NODE_NO_WARNINGS: "1" };
const variants = [
  ["today (compile cache)", [path.join(root, "apps", "cli", "bin", "stepwise.js"), "plan"]],
  ["one CJS bundle", [path.join(out, "cli.cjs"), "plan"]],
  ["one CJS bundle + compile cache (NODE_COMPILE_CACHE)", [path.join(out, "cli.cjs"), "plan"], { NODE_COMPILE_CACHE: path.join(out, "compile-cache") }],
  ["V8 snapshot", ["--snapshot-blob", path.join(out, "cli.blob"), "plan"]],
  ["node -e 0", ["-e", "0"]],
];
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
const samples = variants.map(() => ({ wall: [], loaded: [], git: [], done: [] }));
const once = (i) => {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, variants[i][1], { cwd: site, env: { ...env, ...variants[i][2] }, encoding: "utf8" });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${variants[i][0]} failed:\n${result.stdout}${result.stderr}`);
  if (variants[i][1].includes("plan") && !/^0 to run, 50 unchanged/m.test(result.stdout)) throw new Error(`${variants[i][0]}: not a no-op plan`);
  const at = (label) => Number(new RegExp(`trace\\s+([\\d.]+) ms  ${label}`).exec(result.stderr)?.[1] ?? NaN);
  return { wall, loaded: at("cli loaded"), git: at("git started"), done: at("command done") };
};
for (let i = 0; i < variants.length; i++) once(i), once(i);
const load = os.loadavg();
for (let r = 0; r < runs; r++) {
  for (let c = 0; c < variants.length; c++) {
    const i = (c + r) % variants.length;
    const s = once(i);
    for (const key of Object.keys(s)) samples[i][key].push(s[key]);
  }
}
const loadAfter = os.loadavg();
const base = median(samples[0].wall);
const lines = [
  "",
  `No-op plan on bench/.work/site, ${runs} interleaved runs; Node ${process.version}; load average ${load.map((l) => l.toFixed(2)).join(", ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(", ")} after.`,
  "",
  "| start-up | wall (median) | vs today | git started | cli loaded | command done |",
  "|---|---|---|---|---|---|",
  ...variants.map(([name], i) => {
    const m = (key) => (Number.isNaN(median(samples[i][key])) ? "-" : `${median(samples[i][key]).toFixed(1)} ms`);
    const wall = median(samples[i].wall);
    return `| ${name} | ${wall.toFixed(1)} ms | ${(wall / base).toFixed(2)}x (${(wall - base).toFixed(1)} ms) | ${m("git")} | ${m("loaded")} | ${m("done")} |`;
  }),
  "",
];
process.stdout.write(lines.join("\n"));
