#!/usr/bin/env node
// Azure request counts (issue 12's bench): against the tests' local Resource Manager
// (test/azure/arm-server, the real SDK clients), how many ARM requests and how much wall time
// stepwise spends on a cold deploy, a no-op deploy, a no-op plan and `plan --no-refresh` of a site
// with the whole foundation, two secrets, a Postgres flexible server, two Container Apps and a
// Container Apps job, printed beside what Terraform's refresh issues for the same resources (one
// read per managed resource per plan or apply). Target: a no-op deploy makes at most one read per
// step and no write.
// Usage (repository root, Node 22+): node bench/azure/run.mjs [--runs N] [--no-build] [--out FILE]
// The local servers are the azure test harness (bundled with esbuild into bench/.work/azure/).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const work = path.join(root, "bench", ".work", "azure");
const args = process.argv.slice(2);
const RUNS = args.includes("--runs") ? Number(args[args.indexOf("--runs") + 1]) : 3;
const OUT = path.resolve(args.includes("--out") ? args[args.indexOf("--out") + 1] : path.join(here, "results.md"));
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");
const log = (message) => process.stderr.write(`bench/azure: ${message}\n`);

if (Number(process.versions.node.split(".")[0]) < 22) {
  log(`needs Node 22+ (this is ${process.version}); export PATH=${root}/.toolchain/node_modules/.bin:$PATH`);
  process.exit(2);
}

if (!args.includes("--no-build")) {
  log("building (turbo) ...");
  const built = spawnSync("pnpm", ["exec", "turbo", "run", "build", "--output-logs=errors-only"], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

// The test harness is TypeScript: bundle it (its npm imports stay external) and load it.
mkdirSync(work, { recursive: true });
const { build } = await import("esbuild");
// Two levels below the root, as test/azure/harness.ts is: it finds scripts/azure from there.
const bundle = path.join(root, "bench", ".work", "azure-harness.mjs");
await build({ entryPoints: [path.join(root, "test", "azure", "harness.ts")], bundle: true, platform: "node", format: "esm", packages: "external", outfile: bundle, logLevel: "error" });
const harness = await import(pathToFileURL(bundle).href);
const teardown = await harness.setup();
// Stopped at the end, and on failure (the local registry is a separate process).
process.on("uncaughtException", async (error) => {
  log(String(error?.stack ?? error));
  await teardown();
  process.exit(1);
});
const env = await harness.armHarness();

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const control = new harness.ArmControl(env);
await control.createSubscription();
const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-bench-azure-"));
mkdirSync(path.join(dir, "node_modules", "@stepwise"), { recursive: true });
for (const plugin of ["target-azure", "step-database"]) symlinkSync(path.join(root, "packages", plugin), path.join(dir, "node_modules", "@stepwise", plugin), "dir");
symlinkSync(path.join(root, "test", "azure", "fixtures", "stepwise-plugin-vault-secrets"), path.join(dir, "node_modules", "stepwise-plugin-vault-secrets"), "dir");
writeFileSync(
  path.join(dir, "stepwise.yaml"),
  `name: bench
plugins:
  - "@stepwise/target-azure"
  - "@stepwise/step-database"
  - stepwise-plugin-vault-secrets
target: azure
config:
  azure:
    subscription: ${control.subscription}
    tenantId: ${TENANT}
    location: westeurope
    verify:
      connectTo: "${env.apps}"
  database:
    name: app
    user: app
jobs:
  migrate:
    image: mcr.microsoft.com/k8se/quickstart-jobs:latest
    dependsOn: [database]
    env:
      PGHOST: \${outputs.database.host}
    secrets:
      PGPASSWORD: db_password
services:
  web:
    image: mcr.microsoft.com/k8se/quickstart:latest
    dependsOn: [migrate, app-secrets]
    ports: ["8080:80"]
    healthcheck:
      http: /healthz
    secrets:
      APP_KEY: app_key
  worker:
    image: mcr.microsoft.com/k8se/quickstart:latest
    dependsOn: [migrate]
`,
);
const childEnv = { ...process.env, NODE_EXTRA_CA_CERTS: env.caFile, IDENTITY_ENDPOINT: env.identityEndpoint, IDENTITY_HEADER: env.identityHeader, STEPWISE_AZURE_ARM_ENDPOINT: env.armUrl, CI: "true", NO_COLOR: "1" };

/** One CLI run: wall time and the ARM requests it made (from the server's request log). */
async function measure(argv) {
  const before = (await control.log()).length;
  const start = performance.now();
  // Not spawnSync: the servers answer from this process's event loop.
  const result = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...argv, "-C", dir], { cwd: dir, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`stepwise ${argv.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  const requests = (await control.log()).slice(before);
  const count = (methods) => requests.filter((e) => methods.includes(e.method)).length;
  return { ms, total: requests.length, reads: count(["GET", "HEAD"]), writes: count(["PUT", "POST", "PATCH", "DELETE"]), stdout: result.stdout, requests };
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

log("cold deploy ...");
const cold = await measure(["deploy", "--auto-approve"]);
// What Terraform would manage: every resource the cold deploy created (PUT 201/200 once per id), the group included.
const managed = new Set(cold.requests.filter((e) => e.method === "PUT").map((e) => e.path.toLowerCase()));
const plan = await measure(["plan", "--json"]);
const steps = JSON.parse(plan.stdout).steps?.length ?? Number.NaN;
const rows = [];
for (const [label, argv] of [
  ["no-op `stepwise deploy`", ["deploy", "--auto-approve"]],
  ["no-op `stepwise plan`", ["plan"]],
  ["`stepwise plan --no-refresh`", ["plan", "--no-refresh"]],
]) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(argv));
  log(`${label}: ${runs.map((r) => `${r.total} requests`).join(", ")}`);
  rows.push({ requests: runs[0].requests, label, ms: median(runs.map((r) => r.ms)), reads: Math.max(...runs.map((r) => r.reads)), writes: Math.max(...runs.map((r) => r.writes)), total: Math.max(...runs.map((r) => r.total)) });
}

const noopDeploy = rows[0];
const lines = [
  "# Azure request counts (local Resource Manager)",
  "",
  "Reproduce: `node bench/azure/run.mjs` at the repository root (Node 22+; starts the azure test harness's servers).",
  `Site: the foundation (8 steps), two generated secrets, a Postgres flexible server (step-database), a Container Apps job and two Container Apps: ${steps} steps, ${managed.size} ARM resources created. Measured ${new Date().toISOString()} on ${os.cpus().length} cores (load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} at the end), Node ${process.version}; the server answers long-running operations with Retry-After: 1, so wall times are mostly the SDK's polling waits; ${RUNS} runs of each no-op, the most requests seen and the median time.`,
  "",
  "| run | ARM requests | reads | writes | wall time | Terraform (refresh: one read per resource) |",
  "|---|---|---|---|---|---|",
  `| cold \`stepwise deploy\` | ${cold.total} | ${cold.reads} | ${cold.writes} | ${(cold.ms / 1000).toFixed(1)} s | (creates ${managed.size} resources) |`,
  ...rows.map((r) => `| ${r.label} | ${r.total} | ${r.reads} | ${r.writes} | ${(r.ms / 1000).toFixed(2)} s | ${r.label.includes("no-refresh") ? "0 (`-refresh=false`)" : `${managed.size} reads`} |`),
  "",
  `Target (issue 12): a no-op deploy makes at most one read per step (${steps}) and no write: ${noopDeploy.reads <= steps && noopDeploy.writes === 0 ? "**met**" : "**not met**"} (${noopDeploy.reads} reads, ${noopDeploy.writes} writes).`,
  "",
  "Every read is one step's drift check (one GET, never a write): `azure:role-assignments` is one filtered list of the identity's assignments (`roleAssignments?$filter=principalId eq '...'`), the site's secrets one listing of the vault's secrets (values are never read), the job one GET of the job; `azure:prerequisites` reads nothing on a no-op (its inputs are the provider list; a deploy that runs it checks the registrations). Terraform's refresh reads every managed resource, the role assignments and each secret included.",
  "",
  "The no-op deploy's reads, one line per request (what each step's drift check reads):",
  "",
  ...noopDeploy.requests.map((e) => `- ${e.method} ${e.path.split("/providers/").slice(1).join("/providers/").replace(/\/subscriptions\/[^/]+\/resourceGroups\/[^/]+/gi, "") || e.path.split("/").slice(3).join("/")}`),
  "",
];
writeFileSync(OUT, `${lines.join("\n")}\n`);
process.stdout.write(`${lines.join("\n")}\n`);
log(`wrote ${path.relative(root, OUT)}`);
await teardown();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
