import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { NASTY_SITE_YAML, SiteSnapshot, damageBytes, damagedIdentity, makeFuzzSite, mutateJson, protectedBytes } from "../fixtures/bad-input.js";
import { runCli, type CliResult } from "./cli-harness.js";

/**
 * Bad input through the built CLI, as a user meets it: argv, and damaged site, state, lock,
 * secrets, identity and cache files. Whatever the input: no stack trace, no "internal error",
 * exit 0, 1 (a step failed or changes pending, when asked), 2 or 3 (a lock); with --json,
 * stdout is one JSON document; a refused run leaves state.json and secrets.age byte-identical.
 */

const SEED = Number(process.env.STEPWISE_FUZZ_SEED ?? Date.now() % 1_000_000);
const WORKERS = 3;

interface CliCase {
  label: string;
  args: string[];
  apply?: (dir: string) => void;
  env?: Record<string, string>;
  input?: string;
}

const COMMANDS = [
  ["plan"],
  ["deploy", "-y"],
  ["deploy", "--dry-run"],
  ["status"],
  ["state", "show"],
  ["state", "unlock"],
  ["secrets", "list"],
  ["secrets", "set", "api_token"],
  ["secrets", "rotate", "api_token"],
  ["plugins", "list"],
  ["configure", "--status"],
  ["configure", "-y"],
  ["restart"],
  ["logs", "web"],
  ["backup", "list"],
];

const argFragment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("--force-step", "--force-all", "--reset-state", "--no-refresh", "--expect-no-changes", "--concurrency", "--preset", "--set", "-C", "--site", "-v", "--verbose", "--dry-run", "-y", "--unknown-flag", "-x", "--", "-", "--json") },
  { weight: 3, arbitrary: fc.constantFrom("prepare", "nope", "0", "-1", "1e9", "abc", "dev-mode", "app.greeting=hi", "app.prot=9999", "app.port=abc", "=", "api_token", "/nonexistent", ".", "") },
  fc.string({ maxLength: 8 }),
);

const argv: fc.Arbitrary<string[]> = fc
  .tuple(fc.constantFrom(...COMMANDS, ["frobnicate"], [], ["state"], ["secrets", "set"], ["secrets", "set", "not_owned"]), fc.array(argFragment, { maxLength: 4 }), fc.boolean())
  .map(([command, extra, json]) => [...command, ...extra, ...(json ? ["--json"] : [])])
  .filter((args) => !args.some((a) => ["-h", "--help", "help", "-V", "--version"].includes(a)));

function cases(dir: string, identity: string): CliCase[] {
  const sample = <T>(arb: fc.Arbitrary<T>, n: number, offset: number) => fc.sample(arb, { seed: SEED + offset, numRuns: n });
  const write = (file: string, bytes: Buffer | string) => (d: string) => writeFileSync(path.join(d, file), bytes);
  const asDirectory = (file: string) => (d: string) => (rmSync(path.join(d, file), { recursive: true, force: true }), mkdirSync(path.join(d, file)));
  const planJson = ["plan", "--json"];
  const all: CliCase[] = [];
  for (const args of sample(argv, 100, 1)) all.push({ label: `argv ${JSON.stringify(args)}`, args, input: "" });
  for (const text of NASTY_SITE_YAML) all.push({ label: `stepwise.yaml ${JSON.stringify(text.slice(0, 60))}`, args: planJson, apply: write("stepwise.yaml", text) });
  const state = readFileSync(path.join(dir, ".stepwise/state.json"));
  for (const bytes of sample(fc.oneof(mutateJson(JSON.parse(state.toString())).map((d) => JSON.stringify(d) ?? ""), damageBytes(state)), 12, 2)) {
    all.push({ label: `state.json ${JSON.stringify(String(bytes).slice(0, 60))}`, args: ["deploy", "-y", "--json"], apply: write(".stepwise/state.json", bytes) });
  }
  for (const bytes of sample(damageBytes(Buffer.from('{"id":"x","pid":1,"host":"h"}')), 5, 3)) {
    all.push({ label: `state.lock ${JSON.stringify(String(bytes))}`, args: ["deploy", "-y"], apply: write(".stepwise/state.lock", bytes) });
  }
  const secrets = readFileSync(path.join(dir, ".stepwise/secrets.age"));
  for (const bytes of sample(damageBytes(secrets), 8, 4)) all.push({ label: `secrets.age damaged`, args: ["deploy", "-y", "--json"], apply: write(".stepwise/secrets.age", bytes) });
  for (const bad of sample(damagedIdentity(identity), 8, 5)) {
    all.push({ label: `identity file ${JSON.stringify(bad)}`, args: ["deploy", "-y"], apply: write(".stepwise/age-identity.txt", `${bad}\n`) });
    all.push({ label: `STEPWISE_AGE_IDENTITY ${JSON.stringify(bad)}`, args: ["plan", "--json"], env: { STEPWISE_AGE_IDENTITY: bad } });
  }
  for (const file of [".stepwise/secrets.age", ".stepwise/state.json", ".stepwise/age-identity.txt", ".stepwise/cache", ".stepwise/cache/site.json", ".stepwise/cache/file-ids.bin", "stepwise.yaml"]) {
    all.push({ label: `${file} is a directory`, args: ["deploy", "-y", "--json"], apply: asDirectory(file) });
  }
  all.push({ label: ".stepwise/cache is a file", args: ["plan"], apply: (d) => (rmSync(path.join(d, ".stepwise/cache"), { recursive: true }), writeFileSync(path.join(d, ".stepwise/cache"), "")) });
  for (const bytes of sample(damageBytes(readFileSync(path.join(dir, ".stepwise/cache/site.json"))), 6, 6)) {
    all.push({ label: "cache/site.json damaged", args: ["plan", "--json", "--expect-no-changes"], apply: write(".stepwise/cache/site.json", bytes) });
  }
  return all;
}

const TAKES_VALUE = new Set(["-C", "--site", "--set", "--preset", "--force-step", "--concurrency", "-o", "--output", "--dir", "-n", "--tail", "--name", "--target"]);

/** Whether the arguments ask for --json (not, say, `--set --json`, which sets a value "--json"). */
function asksForJson(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") return false;
    if (TAKES_VALUE.has(args[i]!)) i++;
    else if (args[i] === "--json") return true;
  }
  return false;
}

/** What is wrong with how the CLI ended, if anything. */
function problems(c: CliCase, result: CliResult, before: ReturnType<typeof protectedBytes>, after: ReturnType<typeof protectedBytes>, identity: string): string[] {
  const found: string[] = [];
  const output = `${result.stdout}\n${result.stderr}`;
  if (/^\s+at .+[(:]/m.test(output)) found.push("a stack trace");
  if (/internal error/i.test(output)) found.push(`an internal error: ${result.stderr.split("\n")[0]}`);
  if (![0, 1, 2, 3].includes(result.code ?? -1)) found.push(`exit ${result.code ?? result.signal}`);
  if (result.code === 1 && !c.args.includes("--expect-no-changes") && !output.includes("FAILED") && !output.includes('"failed"')) found.push(`exit 1 without a failed step: ${result.stderr.split("\n")[0]}`);
  if (result.code === 3 && !c.label.startsWith("state.lock")) found.push("exit 3 without a lock");
  if (output.includes(identity.slice(16, 40))) found.push("identity material in the output");
  const bad = c.env?.STEPWISE_AGE_IDENTITY ?? (c.label.startsWith("identity file") ? JSON.parse(c.label.slice("identity file ".length)) as string : undefined);
  if (bad && bad.length > 30 && output.includes(bad.slice(16, 30))) found.push("the given identity in the output");
  if (asksForJson(c.args)) {
    try {
      JSON.parse(result.stdout);
    } catch {
      found.push(`--json stdout is not one JSON document: ${JSON.stringify(result.stdout.slice(0, 80))}`);
    }
  }
  if (result.code !== 0 && JSON.stringify(before) !== JSON.stringify(after)) found.push("a refused run changed state.json or secrets.age");
  return found;
}

let sites: SiteSnapshot[];
let identity: string;

beforeAll(async () => {
  const dirs = Array.from({ length: WORKERS }, () => makeFuzzSite("stepwise-cli-fuzz-"));
  await Promise.all(
    dirs.map(async (dir) => {
      const result = await runCli(["deploy", "-y"], { cwd: dir });
      if (result.code !== 0) throw new Error(`first deploy failed: ${result.stderr}`);
      await runCli(["plan"], { cwd: dir });
    }),
  );
  // One identity for all: the cases' identity checks look for it.
  for (const dir of dirs.slice(1)) for (const file of ["age-identity.txt", "secrets.age"]) writeFileSync(path.join(dir, ".stepwise", file), readFileSync(path.join(dirs[0]!, ".stepwise", file)));
  identity = readFileSync(path.join(dirs[0]!, ".stepwise/age-identity.txt"), "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
  sites = dirs.map((dir) => new SiteSnapshot(dir));
}, 60_000);

describe(`bad input through the CLI (seed ${SEED}; STEPWISE_FUZZ_SEED=${SEED} repeats it)`, () => {
  it("never an internal error or a stack trace; exit 2 (3 for locks); --json is JSON; refused runs change nothing", async () => {
    const all = cases(sites[0]!.dir, identity);
    expect(all.length).toBeGreaterThan(150);
    const found = new Map<string, string>();
    let next = 0;
    await Promise.all(
      sites.map(async (site) => {
        while (next < all.length) {
          const c = all[next++]!;
          site.restore();
          c.apply?.(site.dir);
          const before = protectedBytes(site.dir);
          const result = await runCli(["-C", site.dir, ...c.args], { cwd: site.dir, env: c.env, input: c.input });
          for (const p of problems(c, result, before, protectedBytes(site.dir), identity)) {
            const key = p.slice(0, 40);
            if (!found.has(key)) found.set(key, `${p}\n      case: ${c.label} (stepwise ${c.args.join(" ")})\n      stderr: ${result.stderr.slice(0, 300)}`);
          }
        }
      }),
    );
    expect([...found.values()]).toEqual([]);
  }, 120_000);
});
