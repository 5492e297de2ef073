#!/usr/bin/env node
// Storage requests of the azblob state backend (issue 11): how many requests a no-op `plan`,
// a first `deploy`, a no-op `deploy` and a `deploy --force-step` of one step make, for sites
// of 5 and 50 steps. Azurite (the npm devDependency, in memory) runs behind a counting HTTP
// proxy, so what is counted is what goes over the wire, whatever the code does. Run from the
// repository root after a build: `node bench/azblob-requests.mjs`. Prints a table; writes
// nothing but bench/.work/azblob. Not part of the tests.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const work = path.join(benchDir, ".work", "azblob");
const cli = path.join(root, "apps", "cli", "bin", "stepwise.js");
const log = (message) => process.stderr.write(`bench: ${message}\n`);

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));

async function startAzurite(account, key) {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  const dir = path.join(work, "azurite");
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [path.join(root, "node_modules/azurite/dist/src/blob/main.js"), "--inMemoryPersistence", "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort", String(port)], {
    cwd: dir,
    env: { ...process.env, AZURITE_ACCOUNTS: `${account}:${key}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
      if (/successfully listen/i.test(output)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`Azurite exited (${code}): ${output}`)));
  });
  return { port, child };
}

/** A proxy in front of Azurite counting requests by kind (method and `comp=`/`restype=`). */
async function startProxy(target) {
  const counts = new Map();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const comp = url.searchParams.get("comp") ?? url.searchParams.get("restype") ?? "";
    const lease = req.headers["x-ms-lease-action"] ? `:${req.headers["x-ms-lease-action"]}` : "";
    const kind = `${req.method}${comp ? ` ${comp}${lease}` : ""}${url.searchParams.has("snapshot") ? " (snapshot)" : ""}`;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const upstream = request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  const port = await listen(server);
  return { port, server, take: () => {
    const taken = new Map(counts);
    counts.clear();
    return taken;
  } };
}

/** A site of `steps` steps (no file inputs) from a local plugin, its state in azblob. */
function makeSite(steps, blob) {
  const dir = path.join(work, `site-${steps}`);
  rmSync(dir, { recursive: true, force: true });
  const plugin = path.join(dir, "node_modules", "bench-azblob-steps");
  mkdirSync(plugin, { recursive: true });
  mkdirSync(path.join(dir, "node_modules", "@stepwise"), { recursive: true });
  symlinkSync(path.join(root, "packages", "state-azblob"), path.join(dir, "node_modules", "@stepwise", "state-azblob"), "dir");
  writeFileSync(path.join(plugin, "package.json"), JSON.stringify({ name: "bench-azblob-steps", version: "1.0.0", type: "module", exports: "./index.js", peerDependencies: { "@stepwise/core": "^0.1.0" } }));
  const defs = Array.from({ length: steps }, (_, i) => `    { name: "s${i + 1}", description: "step ${i + 1}", async run() { return { n: ${i + 1} }; } },`);
  writeFileSync(path.join(plugin, "index.js"), `export default {\n  meta: { name: "bench-azblob-steps", version: "1.0.0" },\n  steps: [\n${defs.join("\n")}\n  ],\n};\n`);
  writeFileSync(
    path.join(dir, "stepwise.yaml"),
    `name: bench-${steps}\nplugins:\n  - bench-azblob-steps\n  - "@stepwise/state-azblob"\nstate:\n  backend: azblob\n  options:\n    account: bench\n    container: bench\n    blob: ${blob}\n`,
  );
  return dir;
}

/** Runs the CLI (asynchronously: the proxy in this process must keep answering). */
async function stepwise(dir, env, ...argv) {
  try {
    await promisify(execFile)(process.execPath, [cli, "-C", dir, ...argv], { encoding: "utf8", env: { ...process.env, ...env, CI: "true" } });
  } catch (error) {
    throw new Error(`stepwise ${argv.join(" ")} failed:\n${error.stdout}${error.stderr}`);
  }
}

const format = (counts) => {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const parts = [...counts.entries()].sort().map(([kind, n]) => `${n} ${kind}`);
  return `${String(total).padStart(4)}  (${parts.join(", ")})`;
};

const account = "bench";
const key = randomBytes(64).toString("base64");
mkdirSync(work, { recursive: true });
const azurite = await startAzurite(account, key);
const proxy = await startProxy(azurite.port);
const env = { STEPWISE_AZBLOB_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=http://127.0.0.1:${proxy.port}/${account};` };
const rows = [];
try {
  for (const steps of process.argv.includes("--quick") ? [5] : [5, 50]) {
    log(`site of ${steps} steps`);
    const dir = makeSite(steps, `bench-${steps}/state.json`);
    const measure = async (label, ...argv) => {
      proxy.take();
      const started = performance.now();
      await stepwise(dir, env, ...argv);
      const ms = Math.round(performance.now() - started);
      rows.push(`${String(steps).padStart(5)}  ${label.padEnd(26)} ${String(ms).padStart(6)} ms ${format(proxy.take())}`);
    };
    await measure("deploy (first, all run)", "deploy");
    await measure("plan (no-op)", "plan");
    await measure("deploy (no-op)", "deploy");
    await measure("deploy --force-step s1", "deploy", "--force-step", "s1");
  }
} finally {
  proxy.server.close();
  azurite.child.kill("SIGTERM");
}
process.stdout.write(`steps  command                       wall time  requests (by kind)\n${rows.join("\n")}\n`);
