import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteSnapshot, damageBytes, damagedIdentity, makeFuzzSite, mutateJson, protectedBytes, siteFileText } from "../../../../test/fixtures/bad-input.js";
import { isStepwiseError } from "../errors/stepwise-error.js";
import { ageModule } from "../secrets/age-module.js";
import { AGE_IDENTITY_ENV } from "../secrets/age-secret-backend.js";
import { deploySite, planSite } from "./deploy.js";
import { SiteSession } from "./site-session.js";
import { decodeFileIds } from "../cache/file-ids-cache.js";
import { RACY_WINDOW_MS } from "../fingerprint/file-hash-cache.js";

/**
 * Bad input never makes an internal error, never a wrong exit code, never leaks identity or
 * secret material, and never changes state or secrets when the run is refused. Each property
 * mutates one input of a site that has deployed once, runs plan and deploy in-process, and
 * collects every case that breaks a rule (all of them, not only the first: a fuzzer that stops
 * at one finding hides the rest).
 */

const SEED = Number(process.env.STEPWISE_FUZZ_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.STEPWISE_FUZZ_RUNS ?? 1);

interface Case {
  label: string;
  /** Changes the site before the run. */
  apply(dir: string): void;
  env?: Record<string, string | undefined>;
}

type Outcome = { ok: true; toRun: number; actions: string } | { ok: false; error: unknown };

let dir: string;
let snapshot: SiteSnapshot;
let identity: string;
let secretValues: string[];

async function plan(env: Record<string, string | undefined> = {}): Promise<Outcome> {
  try {
    const session = await SiteSession.open({ dir, env });
    const result = await planSite(session);
    return { ok: true, toRun: result.toRun, actions: result.steps.map((s) => `${s.name}:${s.action}:${s.reasons.map((r) => r.kind).join("+")}`).join(" ") };
  } catch (error) {
    return { ok: false, error };
  }
}

async function deploy(env: Record<string, string | undefined> = {}): Promise<Outcome> {
  try {
    const session = await SiteSession.open({ dir, env });
    const result = await deploySite(session);
    return { ok: true, toRun: result.plan.toRun, actions: result.status };
  } catch (error) {
    return { ok: false, error };
  }
}

/** What is wrong with how a run ended, if anything. */
function problem(outcome: Outcome, allowedExit: readonly number[]): string | undefined {
  if (outcome.ok) return undefined;
  const { error } = outcome;
  if (!isStepwiseError(error)) return `internal error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 300);
  const text = JSON.stringify({ ...error.toJSON(), cause: undefined });
  if (text.includes(identity.slice(16, 40))) return `identity material in the error: ${error.code}`;
  for (const value of secretValues) if (text.includes(value)) return `a secret value in the error: ${error.code}`;
  if (!allowedExit.includes(error.exitCode)) return `exit ${error.exitCode} (${error.code}): ${error.message}`.slice(0, 300);
  return undefined;
}

/** Runs every case; returns the distinct problems, each with one example. */
async function runCases(cases: readonly Case[], run: (c: Case) => Promise<string | undefined>): Promise<string[]> {
  const found = new Map<string, string>();
  for (const c of cases) {
    snapshot.restore();
    c.apply(dir);
    const result = await run(c);
    if (result && !found.has(result.split(":")[0] + result.slice(0, 80))) found.set(result.split(":")[0] + result.slice(0, 80), `${result}\n      case: ${c.label}`);
  }
  snapshot.restore();
  return [...found.values()];
}

const sample = <T>(arb: fc.Arbitrary<T>, n: number, offset: number) => fc.sample(arb, { seed: SEED + offset, numRuns: n * RUNS });
const write = (file: string, bytes: Buffer | string) => (d: string) => writeFileSync(path.join(d, file), bytes);
const show = (bytes: Buffer | string) => JSON.stringify(String(bytes).slice(0, 120));

/** A run that refused must leave state and secrets byte-for-byte as they were. */
async function refusedLeavesFilesAlone(c: Case, allowedExit: readonly number[], how: (env: Record<string, string | undefined>) => Promise<Outcome>): Promise<string | undefined> {
  const before = protectedBytes(dir);
  const outcome = await how(c.env ?? {});
  const wrong = problem(outcome, allowedExit);
  if (wrong) return wrong;
  if (!outcome.ok && JSON.stringify(protectedBytes(dir)) !== JSON.stringify(before)) return `refused run changed state or secrets: ${(outcome.error as Error).message.slice(0, 120)}`;
  return undefined;
}

beforeAll(async () => {
  dir = makeFuzzSite();
  const createdAt = Date.now();
  const first = await deploy();
  if (!first.ok) throw first.error;
  identity = readFileSync(path.join(dir, ".stepwise/age-identity.txt"), "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
  const session = await SiteSession.open({ dir });
  const secrets = await session.secrets();
  secretValues = secrets.names().map((n) => secrets.get(n)!);
  // Files younger than the racy window are not kept in the stat cache: wait until they are older,
  // so that the snapshot's file-ids.bin holds rows whose stat matches (what damage must not fake).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, createdAt + RACY_WINDOW_MS + 100 - Date.now())));
  await plan(); // writes the caches a no-op plan reads
  snapshot = new SiteSnapshot(dir);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe(`bad input, in-process (seed ${SEED}; STEPWISE_FUZZ_SEED=${SEED} repeats it)`, () => {
  it("a malformed stepwise.yaml is exit 2 with a named cause, never an internal error", async () => {
    const cases = sample(siteFileText, 800, 1).map((bytes): Case => ({ label: `stepwise.yaml = ${show(bytes)}`, apply: write("stepwise.yaml", bytes) }));
    cases.push({ label: "stepwise.yaml is a directory", apply: (d) => (rmSync(path.join(d, "stepwise.yaml")), mkdirSync(path.join(d, "stepwise.yaml"))) });
    expect(await runCases(cases, (c) => refusedLeavesFilesAlone(c, [2], plan))).toEqual([]);
    // and deploy refuses the same way, without touching state or secrets
    expect(await runCases(cases.filter((_, i) => i % 5 === 0), (c) => refusedLeavesFilesAlone(c, [2], deploy))).toEqual([]);
  });

  it("a damaged state file is exit 2 and is never overwritten by the refused run", async () => {
    const state = readFileSync(path.join(snapshot.dir, ".stepwise/state.json"));
    const arb = fc.oneof(
      { weight: 3, arbitrary: mutateJson(JSON.parse(state.toString())).map((doc) => Buffer.from(JSON.stringify(doc) ?? "")) },
      damageBytes(state),
    );
    const cases = sample(arb, 400, 2).map((bytes): Case => ({ label: `state.json = ${show(bytes)}`, apply: write(".stepwise/state.json", bytes) }));
    cases.push({ label: "state.json is a directory", apply: (d) => (rmSync(path.join(d, ".stepwise/state.json")), mkdirSync(path.join(d, ".stepwise/state.json"))) });
    expect(await runCases(cases, (c) => refusedLeavesFilesAlone(c, [2], plan))).toEqual([]);
    expect(await runCases(cases.filter((_, i) => i % 3 === 0), (c) => refusedLeavesFilesAlone(c, [2], deploy))).toEqual([]);
  });

  it("a damaged lock file is exit 3 (held) or 2 (stale), or is taken over", async () => {
    const info = { id: "x", operation: "deploy", pid: 999_999_999, host: os.hostname(), user: "u", startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
    const arb = fc.oneof(mutateJson(info).map((doc) => Buffer.from(JSON.stringify(doc) ?? "")), damageBytes(Buffer.from(JSON.stringify(info))));
    const cases = sample(arb, 40, 3).map((bytes): Case => ({
      label: `state.lock = ${show(bytes)}`,
      apply: (d) => {
        const lock = path.join(d, ".stepwise/state.lock");
        writeFileSync(lock, bytes);
        utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000)); // not being written right now
      },
    }));
    cases.push({ label: "state.lock is a directory", apply: (d) => mkdirSync(path.join(d, ".stepwise/state.lock")) });
    expect(await runCases(cases, (c) => refusedLeavesFilesAlone(c, [2, 3], deploy))).toEqual([]);
  });

  it("a decryptable but malformed secrets payload is refused (exit 2) and never written over", async () => {
    const age = await ageModule();
    const payload = { version: 1, secrets: { api_token: "t".repeat(40), "stepwise.hmac-key": "k".repeat(64) } };
    const arb = fc.oneof(
      { weight: 4, arbitrary: mutateJson(payload).map((doc) => JSON.stringify(doc) ?? "") },
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "null", "[]", "{}", '{"version":1}', '{"version":1,"secrets":[]}', '{"version":1,"secrets":"abc"}', '{"version":2,"secrets":{}}'),
    );
    const texts = sample(arb, 200, 4);
    const recipient = await age.identityToRecipient(identity);
    const cases: Case[] = [];
    for (const text of texts) {
      const encrypter = new age.Encrypter();
      encrypter.addRecipient(recipient);
      const bytes = Buffer.from(await encrypter.encrypt(text));
      cases.push({ label: `secrets payload = ${show(text)}`, apply: write(".stepwise/secrets.age", bytes) });
    }
    const stored = readFileSync(path.join(snapshot.dir, ".stepwise/secrets.age"));
    for (const bytes of sample(damageBytes(stored), 60, 5)) cases.push({ label: `secrets.age damaged (${bytes.length} bytes)`, apply: write(".stepwise/secrets.age", bytes) });
    cases.push({ label: "secrets.age is a directory", apply: (d) => (rmSync(path.join(d, ".stepwise/secrets.age")), mkdirSync(path.join(d, ".stepwise/secrets.age"))) });
    expect(await runCases(cases, (c) => refusedLeavesFilesAlone(c, [2], deploy))).toEqual([]);
    expect(await runCases(cases.filter((_, i) => i % 4 === 0), (c) => refusedLeavesFilesAlone(c, [2], plan))).toEqual([]);
  });

  it("a damaged identity (file or STEPWISE_AGE_IDENTITY) is exit 2, and its material never appears", async () => {
    const identities = sample(damagedIdentity(identity), 60, 6);
    const cases: Case[] = identities.flatMap((bad): Case[] => [
      { label: `identity file = ${show(bad)}`, apply: write(".stepwise/age-identity.txt", `# stepwise age identity\n${bad}\n`) },
      { label: `${AGE_IDENTITY_ENV} = ${show(bad)}`, apply: () => {}, env: { [AGE_IDENTITY_ENV]: bad } },
    ]);
    cases.push({ label: "identity file is a directory", apply: (d) => (rmSync(path.join(d, ".stepwise/age-identity.txt")), mkdirSync(path.join(d, ".stepwise/age-identity.txt"))) });
    cases.push({ label: "identity file is empty", apply: write(".stepwise/age-identity.txt", "") });
    const leaks = (c: Case) => async (env: Record<string, string | undefined>) => {
      const outcome = await deploy(env);
      if (!outcome.ok && isStepwiseError(outcome.error)) {
        let bad = c.env?.[AGE_IDENTITY_ENV] ?? "";
        try {
          bad ||= readFileSync(path.join(dir, ".stepwise/age-identity.txt"), "utf8").trim();
        } catch {
          // a directory: nothing to leak
        }
        const material = bad.replace(/^#.*\n/, "").slice(16, 40);
        if (material.length >= 8 && JSON.stringify(outcome.error.toJSON()).includes(material)) return { ok: false as const, error: new Error("identity material in the error") };
      }
      return outcome;
    };
    expect(await runCases(cases, (c) => refusedLeavesFilesAlone(c, [2], (env) => leaks(c)(env).catch((error: unknown) => ({ ok: false as const, error }))))).toEqual([]);
  });

  it("a damaged cache costs time, never a wrong plan", async () => {
    const baseline = await plan();
    expect(baseline).toMatchObject({ ok: true, toRun: 0 });
    const cacheDir = path.join(snapshot.dir, ".stepwise/cache");
    const files = ["site.json", "core-ranges.json", "file-inputs.json", "fingerprints.json", "file-ids.bin"].filter((f) => {
      try {
        readFileSync(path.join(cacheDir, f));
        return true;
      } catch {
        return false;
      }
    });
    expect(files).toContain("site.json");
    // The stat cache holds rows whose stat matches the files: damage there must not be trusted.
    expect(decodeFileIds(readFileSync(path.join(cacheDir, "file-ids.bin")))?.size).toBeGreaterThan(0);
    const cases: Case[] = [];
    for (const [i, file] of files.entries()) {
      const bytes = readFileSync(path.join(cacheDir, file));
      // A JSON cache is a header line (name, version, checksum) and the JSON: mutate the JSON under the header.
      const newline = bytes.indexOf(10);
      const json = file.endsWith(".json") ? (JSON.parse(bytes.subarray(newline + 1).toString()) as unknown) : undefined;
      const underHeader = (doc: unknown) => Buffer.concat([bytes.subarray(0, newline + 1), Buffer.from(JSON.stringify(doc) ?? "")]);
      const arb = json === undefined ? damageBytes(bytes) : fc.oneof(mutateJson(json).map(underHeader), damageBytes(bytes));
      for (const damaged of sample(arb, 50, 10 + i)) cases.push({ label: `cache/${file} = ${show(damaged)}`, apply: write(`.stepwise/cache/${file}`, damaged) });
      cases.push({ label: `cache/${file} is a directory`, apply: (d) => (rmSync(path.join(d, ".stepwise/cache", file)), mkdirSync(path.join(d, ".stepwise/cache", file))) });
    }
    // The parse cache of stepwise.yaml with its key intact and the site changed.
    const [siteHeader, siteBody] = readFileSync(path.join(cacheDir, "site.json"), "utf8").split(/\n(.*)/s) as [string, string];
    const siteCache = JSON.parse(siteBody) as { key: string; site: object };
    for (const site of sample(mutateJson(siteCache.site), 60, 20)) {
      cases.push({ label: `cache/site.json site = ${show(JSON.stringify(site))}`, apply: write(".stepwise/cache/site.json", `${siteHeader}\n${JSON.stringify({ ...siteCache, site })}`) });
    }
    cases.push({ label: "cache/ is a file", apply: (d) => (rmSync(path.join(d, ".stepwise/cache"), { recursive: true }), writeFileSync(path.join(d, ".stepwise/cache"), "x")) });
    cases.push({ label: ".stepwise/cache/site.json.tmp is a directory", apply: (d) => mkdirSync(path.join(d, ".stepwise/cache/site.json.tmp")) });
    const expected = JSON.stringify(baseline);
    expect(
      await runCases(cases, async () => {
        const outcome = await plan();
        const wrong = problem(outcome, []);
        if (wrong) return wrong;
        return JSON.stringify(outcome) === expected ? undefined : `a different plan: ${JSON.stringify(outcome).slice(0, 200)}`;
      }),
    ).toEqual([]);
  });

  it("config and --set values of any shape are exit 2 or accepted, never an internal error", async () => {
    const key = fc.oneof(fc.constantFrom("app.greeting", "app.port", "app.prot", "app", "app.greeting.x", "minio.bukcet", "", ".", "..", "a..b", "__proto__", "constructor.prototype"), fc.string({ maxLength: 12 }));
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("", "=", "99999", "-1", "1e400", "true"));
    const sets = sample(fc.array(fc.oneof(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), fc.string({ maxLength: 10 })), { maxLength: 3 }), 150, 30);
    const cases = sets.map((s): Case => ({ label: `--set ${JSON.stringify(s)}`, apply: () => {} }));
    let i = 0;
    expect(
      await runCases(cases, async () => {
        const s = sets[i++]!;
        try {
          const session = await SiteSession.open({ dir, sets: s, env: {} });
          await planSite(session);
          return undefined;
        } catch (error) {
          return problem({ ok: false, error }, [2]);
        }
      }),
    ).toEqual([]);
  });
});
