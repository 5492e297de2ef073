#!/usr/bin/env node
// stepwise vs `podman kube play` on real Podman (issue 4's benchmark). Same machine, same run, the
// same five containers (postgres, redis, a migration job, web on a host port, a worker) and the
// same pre-built images in both tools. Measures:
//   cold:  `stepwise deploy` (after `stepwise down --volumes`) vs network + secret + `podman kube play`
//          of the equivalent Kubernetes YAML, until the web page answers (and kube play alone);
//   no-op: `stepwise deploy` with nothing changed vs `podman kube play --replace`, and how many
//          containers each recreated or restarted (container ids + StartedAt before/after).
// Usage (repository root): node bench/podman/run.mjs [--runs N] [--warmup N] [--no-build] [--no-profile] [--keep]
//   [--plugins DIR]  link the site's plugins from DIR/target-podman and DIR/step-database instead of packages/
//                    (to measure a patched build; results then go to bench/.work/podman/results-plugins.md)
//   [--out FILE]     where to write the results (default bench/podman/results.md)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NAMES, generate } from "./generate.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const work = path.join(root, "bench", ".work", "podman");
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const stringOption = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const RUNS = option("--runs", 5);
const PLUGINS = stringOption("--plugins") ? path.resolve(stringOption("--plugins")) : path.join(root, "packages");
const OUT = path.resolve(stringOption("--out") ?? (stringOption("--plugins") ? path.join(work, "results-plugins.md") : path.join(here, "results.md")));
const WARMUP = option("--warmup", 1);
const node = process.execPath;
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");
const log = (message) => process.stderr.write(`bench/podman: ${message}\n`);

if (Number(process.versions.node.split(".")[0]) < 22) {
  log(`needs Node 22+ (this is ${process.version}); export PATH=${root}/.toolchain/node_modules/.bin:$PATH`);
  process.exit(2);
}

const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? path.join(root, "scripts", "podman", "containers.conf");
const baseEnv = { ...process.env, CONTAINERS_CONF };

/** Runs a command; returns { ms, stdout, stderr, status }. Throws on failure unless `allowFail`. */
function run(command, argv, { allowFail = false, env = baseEnv, cwd = root, input } = {}) {
  const start = performance.now();
  const result = spawnSync(command, argv, { cwd, env, encoding: "utf8", maxBuffer: 1 << 28, input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  const ms = performance.now() - start;
  if (result.error) throw result.error;
  if (result.status !== 0 && !allowFail) {
    throw new Error(`${path.basename(command)} ${argv.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return { ms, stdout: result.stdout, stderr: result.stderr, status: result.status };
}
const podman = (argv, options) => run("podman", argv, options);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- setup

function build() {
  if (flag("--no-build")) return;
  log("building the CLI and the site's plugins (turbo)");
  run("pnpm", ["exec", "turbo", "run", "build", "--filter=@stepwise/cli...", "--filter=@stepwise/target-podman...", "--filter=@stepwise/step-database..."]);
}

async function ping(socket) {
  const r = run("curl", ["-sf", "--max-time", "2", "--unix-socket", socket, "http://d/_ping"], { allowFail: true });
  return r.status === 0;
}

/**
 * The Podman API socket stepwise uses: STEPWISE_PODMAN_SOCKET, else a private service under
 * bench/.work/podman/svc (started with scripts/podman/start.sh only when it does not answer:
 * start.sh's lock is inherited by the service it starts, so a second call would wait forever).
 */
async function podmanSocket() {
  if (process.env.STEPWISE_PODMAN_SOCKET) return process.env.STEPWISE_PODMAN_SOCKET;
  const dir = path.join(work, "svc");
  const socket = path.join(dir, "podman.sock");
  if (existsSync(socket) && (await ping(socket))) return socket;
  log(`starting a private podman service on ${socket}`);
  const started = run("bash", [path.join(root, "scripts", "podman", "start.sh"), dir]);
  return started.stdout.trim();
}

function buildImages(site) {
  log("building the offline base images (cached): scripts/images/build.sh busybox postgres redis node");
  run("bash", [path.join(root, "scripts", "images", "build.sh"), "busybox", "postgres", "redis", "node"]);
  log(`building ${NAMES.appImage} once; both tools run this image`);
  podman(["build", "-q", "-t", NAMES.appImage, "--build-arg", `NODE_IMAGE=${NAMES.nodeImage}`, path.join(site, "app")]);
}

function ensureAppDependencies() {
  const demoApp = path.join(root, "examples", "demo-site", "app");
  if (!existsSync(path.join(demoApp, "node_modules", "pg"))) {
    log("installing the demo app's dependencies (npm install pg)");
    run("npm", ["install", "--prefix", demoApp, "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"]);
  }
  return demoApp;
}

function portFree(port) {
  const r = run("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { allowFail: true });
  return r.status !== 0;
}

// ---------------------------------------------------------------- the two tools

let stepwiseEnv;
/** Failed stepwise deploys (first line of each), reported in results.md. */
const failures = [];
let paths;

const stepwise = (argv, options = {}) => run(node, [...(options.nodeArgs ?? []), cli, ...argv, "-C", paths.site], { env: stepwiseEnv, ...options });

function stepwiseDown() {
  stepwise(["down", "--volumes", "--auto-approve", "--no-final-backup"]);
}

function kubeDown() {
  podman(["kube", "down", paths.kubeFile], { allowFail: true });
  podman(["pod", "rm", "-f", "--ignore", `${NAMES.kube}-db`, `${NAMES.kube}-app`], { allowFail: true });
  podman(["volume", "rm", "-f", `${NAMES.kube}-pgdata`, `${NAMES.kube}-redisdata`], { allowFail: true });
  podman(["secret", "rm", `${NAMES.kube}-secrets`], { allowFail: true });
  podman(["network", "rm", "-f", NAMES.kube], { allowFail: true });
}

/**
 * One GET on a fresh connection that is closed afterwards. Not fetch(): its pooled keep-alive
 * connection would hold the app's `server.close()` open for ~4 s when kube play --replace stops it.
 */
function getPage(port) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/", agent: false, headers: { connection: "close" }, timeout: 2000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode, body }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", reject);
  });
}

/** Polls the web page until it answers 200 with the migrated greeting; returns when it did. */
async function waitPage(port, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const { status, body } = await getPage(port);
      if (status === 200 && body.includes(NAMES.greeting)) return;
      last = `HTTP ${status}`;
    } catch (error) {
      last = error.message;
    }
    await sleep(20);
  }
  throw new Error(`http://127.0.0.1:${port}/ did not show the greeting within ${timeoutMs / 1000}s (${last})`);
}

/** Cold stepwise deploy: returns its wall time (the command returns when everything is ready). */
async function stepwiseCold() {
  const r = stepwise(["deploy", "--auto-approve"]);
  if (!/Deployed: 5 ran/.test(r.stdout + r.stderr)) throw new Error(`cold stepwise deploy did not run 5 steps:\n${r.stdout}${r.stderr}`);
  const verify = performance.now();
  await waitPage(NAMES.stepwisePort, 5000);
  return { ms: r.ms, pageAfterMs: performance.now() - verify };
}

/** Cold kube deploy: network + secret + kube play, then until the page answers. */
async function kubeCold() {
  const start = performance.now();
  podman(["network", "create", NAMES.kube]);
  podman(["secret", "create", `${NAMES.kube}-secrets`, paths.secretFile]);
  const play = podman(["kube", "play", "--network", NAMES.kube, paths.kubeFile]);
  const played = performance.now();
  await waitPage(NAMES.kubePort);
  const ready = performance.now();
  return { ms: ready - start, playMs: play.ms, setupMs: played - start - play.ms, readyAfterPlayMs: ready - played };
}

/** id + StartedAt of every container of one tool, by name. */
function snapshot(tool) {
  const rows = JSON.parse(podman(["ps", "-a", "--pod", "--format", "json"]).stdout || "[]");
  const mine = rows.filter((c) =>
    tool === "stepwise" ? c.Names[0].startsWith(`stepwise-${NAMES.site}-`) : [`${NAMES.kube}-db`, `${NAMES.kube}-app`].includes(c.PodName),
  );
  if (mine.length === 0) return new Map();
  const inspected = JSON.parse(podman(["container", "inspect", ...mine.map((c) => c.Id)]).stdout);
  return new Map(inspected.map((c) => [c.Name, { id: c.Id, startedAt: c.State.StartedAt, running: c.State.Running }]));
}

function compare(before, after) {
  let recreated = 0;
  let restarted = 0;
  for (const [name, b] of before) {
    const a = after.get(name);
    if (!a || a.id !== b.id) recreated++;
    else if (a.startedAt !== b.startedAt) restarted++;
  }
  return { total: before.size, recreated, restarted, after: after.size };
}

async function stepwiseNoop(options = {}) {
  const before = snapshot("stepwise");
  const r = stepwise(["deploy", "--auto-approve", ...(options.extra ?? [])], options);
  const after = snapshot("stepwise");
  if (!/0 ran|nothing to do|unchanged/i.test(r.stdout + r.stderr)) log(`note: no-op deploy said: ${(r.stdout + r.stderr).trim().split("\n").pop()}`);
  return { ms: r.ms, ...compare(before, after), output: r.stdout + r.stderr };
}

async function kubeNoop() {
  const before = snapshot("kube");
  const play = podman(["kube", "play", "--replace", "--network", NAMES.kube, paths.kubePodsFile]);
  const played = performance.now();
  await waitPage(NAMES.kubePort);
  const readyAfterPlayMs = performance.now() - played;
  const after = snapshot("kube");
  return { ms: play.ms, readyMs: play.ms + readyAfterPlayMs, ...compare(before, after) };
}

// ---------------------------------------------------------------- statistics and output

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const min = (xs) => Math.min(...xs);
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const stat = (xs) => `${fmt(median(xs))} (min ${fmt(min(xs))})`;

function machine() {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const version = podman(["version", "--format", "{{.Client.Version}}"]).stdout.trim();
  const runtime = podman(["info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}"], { allowFail: true }).stdout.trim().split("\n")[0];
  return {
    nproc: run("nproc", []).stdout.trim(),
    cpu,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    podman: version,
    runtime,
    node: process.version,
    load: os.loadavg().map((l) => l.toFixed(2)).join(" "),
    commit: `${run("git", ["rev-parse", "--short", "HEAD"], { allowFail: true }).stdout.trim()}${run("git", ["status", "--porcelain", "--", "packages", "apps"], { allowFail: true }).stdout.trim() ? " with uncommitted changes in packages/ or apps/" : ""}`,
  };
}

/** Step durations from a `--verbose` deploy: lines `ok <step> (1.3s)`. */
function stepTimes(output) {
  return [...output.matchAll(/(?:^|\s)ok (\S+) \(([\d.]+)s\)/gm)].map((m) => `${m[1]} ${m[2]} s`).join(", ");
}

/** Runs a verbose deploy, stamping each line with the ms since start (a timeline for profiling). */
function timeline(argv, file, nodeArgs = []) {
  const script = `const {spawn}=require("node:child_process");const t0=performance.now();const p=spawn(process.argv[1],process.argv.slice(2),{stdio:["ignore","pipe","pipe"]});let buf="";const on=(d)=>{buf+=d;let i;while((i=buf.indexOf("\\n"))>=0){process.stdout.write((performance.now()-t0).toFixed(0).padStart(6)+" ms  "+buf.slice(0,i)+"\\n");buf=buf.slice(i+1);}};p.stdout.on("data",on);p.stderr.on("data",on);p.on("close",(c)=>{if(buf)on("\\n");process.exit(c??1)});`;
  const r = run(node, ["-e", script, node, ...nodeArgs, cli, ...argv, "-C", paths.site], { env: stepwiseEnv, allowFail: true });
  writeFileSync(file, r.stdout);
  return r.stdout;
}

// ---------------------------------------------------------------- main

async function main() {
  mkdirSync(work, { recursive: true });
  build();
  const socket = await podmanSocket();
  stepwiseEnv = { ...baseEnv, STEPWISE_PODMAN_SOCKET: socket, CI: "1" };
  const demoApp = ensureAppDependencies();
  paths = generate({ work, demoApp, packagesDir: PLUGINS });
  if (PLUGINS !== path.join(root, "packages")) log(`plugins linked from ${PLUGINS}`);
  buildImages(paths.site);

  log("removing what an earlier run left");
  if (existsSync(path.join(paths.site, ".stepwise"))) stepwise(["down", "--volumes", "--auto-approve", "--no-final-backup"], { allowFail: true });
  kubeDown();
  for (const port of [NAMES.stepwisePort, NAMES.kubePort]) if (!portFree(port)) throw new Error(`port ${port} is in use; free it or change NAMES in bench/podman/generate.mjs`);

  const cold = { stepwise: [], kube: [], kubePlay: [], kubeSetup: [], stepwisePage: [] };
  failures.length = 0;
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const warm = i < WARMUP;
    const order = i % 2 === 0 ? ["stepwise", "kube"] : ["kube", "stepwise"];
    for (const tool of order) {
      if (tool === "stepwise") {
        let r;
        for (let attempt = 1; !r; attempt++) {
          try {
            r = await stepwiseCold();
          } catch (error) {
            // Recorded and reported, then retried from nothing running: a failure is a finding, not a timing.
            // The first line, and the deploy's own last lines (its summary or error), so a failure can be told apart.
            const lines = String(error.message).split("\n").filter((l) => l.trim() !== "");
            const first = [lines.find((l) => l.startsWith("FAILED")) ?? lines[0], ...lines.slice(1).slice(-3)].join(" | ");
            failures.push(first);
            log(`cold stepwise deploy FAILED (attempt ${attempt}): ${first}`);
            stepwiseDown();
            if (attempt >= 3) throw error;
          }
        }
        if (!warm) cold.stepwise.push(r.ms);
        log(`cold ${warm ? "warmup" : `#${i - WARMUP + 1}`} stepwise deploy ${fmt(r.ms)}`);
        stepwiseDown();
      } else {
        const r = await kubeCold();
        if (!warm) (cold.kube.push(r.ms), cold.kubePlay.push(r.playMs), cold.kubeSetup.push(r.setupMs));
        log(`cold ${warm ? "warmup" : `#${i - WARMUP + 1}`} kube: play ${fmt(r.playMs)}, until the page answers ${fmt(r.ms)}`);
        kubeDown();
      }
    }
  }

  log("no-op: both sites up");
  await stepwiseCold();
  await kubeCold();
  // The workers must really talk to Redis and Postgres (checked once, not timed).
  const workerOk = {};
  for (const [tool, name] of [["stepwise", `stepwise-${NAMES.site}-worker`], ["kube", `${NAMES.kube}-app-worker`]]) {
    let ok = false;
    for (let t = 0; t < 40 && !ok; t++) {
      ok = /greeting\(s\), redis PONG/.test(podman(["logs", name], { allowFail: true }).stdout);
      if (!ok) await sleep(250);
    }
    workerOk[tool] = ok;
    if (!ok) log(`warning: the ${tool} worker has not reached Redis and Postgres: ${podman(["logs", "--tail", "3", name], { allowFail: true }).stdout.trim()}`);
  }
  const noop = { stepwise: [], kube: [], kubeReady: [], stepwiseChanges: [], kubeChanges: [] };
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const warm = i < WARMUP;
    const s = await stepwiseNoop();
    const k = await kubeNoop();
    log(`no-op ${warm ? "warmup" : `#${i - WARMUP + 1}`}: stepwise ${fmt(s.ms)} (${s.recreated}/${s.total} recreated, ${s.restarted} restarted); kube play --replace ${fmt(k.ms)} (${k.recreated}/${k.total} recreated)`);
    if (warm) continue;
    noop.stepwise.push(s.ms);
    noop.kube.push(k.ms);
    noop.kubeReady.push(k.readyMs);
    noop.stepwiseChanges.push(s);
    noop.kubeChanges.push(k);
  }

  // Where stepwise spends its time: verbose timelines (cold and no-op) and a CPU profile of a no-op.
  let profile = null;
  if (!flag("--no-profile")) {
    const dir = path.join(work, "profile");
    mkdirSync(dir, { recursive: true });
    log(`profiling stepwise (timelines and a CPU profile in ${path.relative(root, dir)})`);
    const noopTimeline = timeline(["deploy", "--auto-approve", "--verbose"], path.join(dir, "noop-timeline.txt"));
    stepwise(["deploy", "--auto-approve"], { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", "noop.cpuprofile"] });
    stepwiseDown();
    const coldTimeline = timeline(["deploy", "--auto-approve", "--verbose"], path.join(dir, "cold-timeline.txt"));
    profile = { dir: path.relative(root, dir), cold: stepTimes(coldTimeline), noop: stepTimes(noopTimeline), coldTimeline, noopTimeline };
  }

  if (!flag("--keep")) {
    log("tearing both sites down (--keep leaves them running)");
    stepwiseDown();
    kubeDown();
  }

  report({ cold, noop, workerOk, profile });
}

function report({ cold, noop, workerOk, profile }) {
  const m = machine();
  const coldRatio = median(cold.stepwise) / median(cold.kube);
  const coldPlayRatio = median(cold.stepwise) / median(cold.kubePlay);
  const noopRatio = median(noop.kube) / median(noop.stepwise);
  const noopReadyRatio = median(noop.kubeReady) / median(noop.stepwise);
  // Runs of one repetition ran back to back: their ratios are less exposed to the machine's load drifting.
  const pairedCold = median(cold.stepwise.map((t, i) => t / cold.kube[i]));
  const pairedNoop = median(noop.stepwise.map((t, i) => noop.kube[i] / t));
  const sumChanges = (list, key) => list.reduce((n, c) => n + c[key], 0);
  const sw = { recreated: sumChanges(noop.stepwiseChanges, "recreated"), restarted: sumChanges(noop.stepwiseChanges, "restarted"), total: noop.stepwiseChanges[0]?.total ?? 0 };
  const kb = { recreated: sumChanges(noop.kubeChanges, "recreated"), restarted: sumChanges(noop.kubeChanges, "restarted"), total: noop.kubeChanges[0]?.total ?? 0 };
  const coldMet = coldRatio <= 1.2;
  const noopMet = noopRatio >= 10 && sw.recreated === 0 && sw.restarted === 0;
  const command = `node bench/podman/run.mjs${args.length ? ` ${args.join(" ")}` : ""}`;

  const rows = [
    ["cold deploy (until the page answers)", stat(cold.stepwise), "network + secret + `podman kube play`, until the page answers", stat(cold.kube), `${coldRatio.toFixed(2)}x (paired runs: ${pairedCold.toFixed(2)}x)`, "<= 1.20x", coldMet ? "yes" : `**no** (${((coldRatio / 1.2 - 1) * 100).toFixed(0)}% over)`],
    ["cold deploy", stat(cold.stepwise), "`podman kube play` alone (returns before web listens)", stat(cold.kubePlay), `${coldPlayRatio.toFixed(2)}x`, "(info)", ""],
    ["no-op `stepwise deploy`", stat(noop.stepwise), "`podman kube play --replace`", stat(noop.kube), `${noopRatio.toFixed(1)}x faster (paired runs: ${pairedNoop.toFixed(1)}x)`, ">= 10x, 0 recreated", noopMet ? "yes" : "**no**"],
    ["no-op `stepwise deploy`", stat(noop.stepwise), "`kube play --replace`, until the page answers again", stat(noop.kubeReady), `${noopReadyRatio.toFixed(1)}x faster`, "(info)", ""],
    ["containers recreated / restarted by the no-ops", `${sw.recreated} / ${sw.restarted} (of ${sw.total}, over ${RUNS} runs)`, "same, kube play --replace", `${kb.recreated} / ${kb.restarted} (of ${kb.total}, over ${RUNS} runs)`, "", "stepwise 0", sw.recreated + sw.restarted === 0 ? "yes" : "**no**"],
  ];

  const table = [
    "| measurement | stepwise (median, min) | against | its time (median, min) | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(`cold: stepwise ${coldRatio.toFixed(2)}x the time of kube play to a ready page (target <= 1.2x: ${coldMet ? "met" : "NOT met"})\n`);
  if (failures.length) process.stdout.write(`${failures.length} cold stepwise deploy(s) FAILED and were retried (see results.md)\n`);
  process.stdout.write(`no-op: stepwise ${noopRatio.toFixed(1)}x faster than kube play --replace, ${sw.recreated} recreated / ${sw.restarted} restarted vs ${kb.recreated} / ${kb.restarted} (target >= 10x and 0: ${noopMet ? "met" : "NOT met"})\n`);

  const md = `# stepwise vs \`podman kube play\` (Podman benchmark)

Reproduce (repository root, Node 22+: \`export PATH=$PWD/.toolchain/node_modules/.bin:$PATH\`):

    ${command}

Measured ${new Date().toISOString()} at commit ${m.commit}: ${m.nproc} cores (${m.cpu}), ${m.memGb} GB RAM, kernel ${m.kernel}; podman ${m.podman} (${m.runtime}); Node ${m.node};
median and min of ${RUNS} runs after ${WARMUP} warmup; load average at the end ${m.load} (the machine is shared: other sessions run tests on the same Podman storage).

${table}

Why the targets are (not) met, where stepwise spends the time and the proposed fixes (with a measured
prototype): [analysis.md](analysis.md).

## What is compared

Both deploy the same five containers from the same pre-built images (\`${NAMES.appImage}\` built once from
\`examples/demo-site/app\` plus a worker; \`${NAMES.postgresImage}\`, \`${NAMES.redisImage}\` from \`scripts/images/build.sh\`):
postgres (data volume), redis (password, append-only data volume), the migration job (must finish before web starts),
web (published on 127.0.0.1, \`/healthz\` reads the database) and a worker that reads Postgres and PINGs Redis every 5 s.
Nothing is shared between the two: stepwise site \`${NAMES.site}\` on port ${NAMES.stepwisePort}, kube pods \`${NAMES.kube}-db\`/\`${NAMES.kube}-app\`
on port ${NAMES.kubePort}, each with its own network, volumes and secrets. Workers reached Redis and Postgres: stepwise ${workerOk.stepwise ? "yes" : "NO"}, kube ${workerOk.kube ? "yes" : "NO"}.

- **stepwise** (\`bench/.work/podman/site/stepwise.yaml\`, generated): \`@stepwise/step-database\` (postgres + redis, generated passwords),
  a \`jobs: migrate\` entry and \`services: web, worker\`; run as \`node apps/cli/bin/stepwise.js deploy -C <site> --auto-approve\`
  against a Podman API service (\`scripts/podman/start.sh\`). A cold run follows \`stepwise down --volumes\` (state and the
  site's secret store are kept, as for a user who takes the site down and up again). \`deploy\` returns once postgres accepts
  connections, redis answers PING, the migration exited 0 and web answers \`/healthz\`.
- **kube** (\`bench/.work/podman/kube.yaml\`, generated): two PVCs; pod \`${NAMES.kube}-db\` (postgres, redis); pod \`${NAMES.kube}-app\`
  with the migration as an init container (retried every 0.5 s until postgres answers) and web (hostPort) + worker.
  Secrets are a k8s Secret (\`kube-secret.yaml\`) referenced with \`secretKeyRef\`. Podman 4.3's \`kube play\` takes no
  \`kind: Secret\` and crashes on \`secret\` volumes, so its \`data\` map is stored with \`podman secret create\` and postgres
  gets its password file from the env var. The timed cold run is \`podman network create\` + \`podman secret create\` +
  \`podman kube play --network ${NAMES.kube}\` (which waits for the init container) and then polling \`http://127.0.0.1:${NAMES.kubePort}/\`
  until it shows the migrated row: the state stepwise's \`deploy\` returns in. The CLI talks to the same storage as the service.
- Cold runs alternate which tool goes first; each tool's site is torn down right after its run (\`stepwise down --volumes\`;
  \`podman kube down\`, \`pod rm -f\`, volume/secret/network rm), so neither runs next to the other's containers.
  No-op runs happen with both sites up.
- Containers recreated = a name whose container id changed (or vanished); restarted = same id, other \`State.StartedAt\`.
  Kube counts include the two pods' infra containers; its init container is removed by Podman once it has run.
${failures.length ? `\n**Failed cold deploys** (each retried from nothing running; not counted in the figures): ${failures.length}\n\n${failures.map((f) => `- \`${f.slice(0, 600)}\``).join("\n")}\n` : ""}${profile ? profileSection(profile) : ""}`;
  writeFileSync(OUT, md);
  log(`wrote ${path.relative(root, OUT)}`);
}

function profileSection(profile) {
  return `
## Where stepwise spends its time

Per-step durations from \`deploy --verbose\` (timelines in \`${profile.dir}/\`, a CPU profile of a no-op in \`${profile.dir}/noop.cpuprofile\`):

- cold: ${profile.cold || "(none)"}
- no-op: ${profile.noop || "(no step ran)"}

Cold timeline:

\`\`\`
${profile.coldTimeline.trimEnd()}
\`\`\`

No-op timeline:

\`\`\`
${profile.noopTimeline.trimEnd()}
\`\`\`
`;
}

main().catch((error) => {
  log(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
});
