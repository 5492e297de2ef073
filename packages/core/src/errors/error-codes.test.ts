import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ErrorCode, errors } from "./error-codes.js";
import { StepwiseError } from "./stepwise-error.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const coreSrc = path.resolve(here, "..");
const cliSrc = path.resolve(here, "../../../../apps/cli/src");

/** Arguments for each factory, one list per variant; a factory missing here fails the test below. */
const samples: { [K in keyof typeof errors]: Parameters<(typeof errors)[K]>[] } = {
  backendFailedToStart: [["state", "azblob", "p@1.0.0", new Error("no account")]],
  backendUnknown: [["secrets", "vault"], ["state", "s3"]],
  backupInvalid: [["site.tar.gz", "the file does not exist", "demo"]],
  changesPending: [["2 steps would run", ["web", "database"]]],
  configInvalid: [["mail.port", "stepwise.yaml:3", "must be a number"]],
  configInvalidMany: [[[{ key: "mail.port", source: "stepwise.yaml:3", message: "must be a number" }]]],
  configMissing: [[[{ key: "mail.host", owner: "email", description: "SMTP host" }]]],
  configMissingNoTerminal: [[["  - config mail.host"], ["mail.host"], []]],
  configReferencesUnset: [[["  - services.web.env.X: ${config.x}"]]],
  configUnknown: [[[{ key: "app.prot", source: "stepwise.yaml:4", suggestions: ["app.port"] }]]],
  configValueInvalid: [["mail.port", "mail.port must be a number"]],
  confirmationRequired: [["down would delete 1 volume", ["volume data"], "stepwise down --auto-approve"]],
  interrupted: [["interrupted by SIGINT"]],
  outputsOfUnknownStep: [["tpl/.env", "${outputs.dbx.host}", "tpl/.env", ["database"]]],
  pluginDowngrade: [[[{ plugin: "p", recorded: "2.0.0", installed: "1.0.0", steps: ["web"] }]]],
  pluginError: [[new TypeError("x is undefined"), "p@1.0.0", "web", (text) => text, "run"]],
  pluginIncompatible: [["p", "1.0.0", "/site/node_modules/p", "^2.0.0", "1.0.0"]],
  pluginInstallFailed: [["p", ["npm", "install", "p"], 1, "/site"], ["p", ["pnpm", "add", "p"], "ENOENT", "/site"]],
  pluginInvalid: [["p", "/site/node_modules/p", "it has no steps"]],
  pluginListedTwice: [["p", "p@1.0.0"]],
  pluginLoadFailed: [["p@1.0.0", "/site/node_modules/p", "/site/node_modules/p/index.js", "/site", "p", new Error("boom")]],
  pluginMissing: [["p", "/site"]],
  pluginOptionsRejected: [["p@1.0.0", "p", new Error("bad option")]],
  pluginsNotLoaded: [[["  - a", "  - b"]]],
  portInvalid: [["80:http"]],
  removalNotApproved: [[[{ name: "service:worker", reason: "no longer in stepwise.yaml", volumes: [] }]]],
  resourceKindUndeclared: [["database", "p@1.0.0", "redis", ["postgres"]]],
  resourceKindUnsupported: [["storage", "objectStore", "podman", ["service"], []]],
  secretIdentityInvalid: [["STEPWISE_AGE_IDENTITY", "STEPWISE_AGE_IDENTITY", ".stepwise/age.key"]],
  secretIdentityUnreadable: [[".stepwise/age.key", "EACCES", "STEPWISE_AGE_IDENTITY"]],
  secretMissing: [[[{ name: "smtp_password", usedBy: "email" }]]],
  secretRecipientInvalid: [["age2xyz"]],
  secretStoreNoIdentity: [[".stepwise/secrets.age", "STEPWISE_AGE_IDENTITY", ".stepwise/age.key"]],
  secretStoreUnreadable: [[".stepwise/secrets.age", "is not valid JSON", "stepwise backup restore FILE"]],
  secretTooShort: [["smtp_password", 4]],
  secretsNotVerified: [[".stepwise/secrets.age", [{ name: "x", problem: "not set", fix: "stepwise secrets set x" }]]],
  siteInvalid: [["stepwise.yaml:2", "bad"]],
  siteKeyNotSaved: [["stepwise.yaml", "mail.port", "config.mail"]],
  siteNotFound: [["/site"]],
  siteProblems: [[[errors.configReferencesUnset(["  - x"]), errors.siteInvalid("stepwise.yaml:1", "bad")]]],
  siteSchemaInvalid: [["stepwise.yaml", ["  stepwise.yaml:1  name: required"], "stepwise.yaml:1"]],
  siteUnreadable: [["/site/stepwise.yaml", new Error("EACCES")]],
  siteVersionUnsupported: [["stepwise.yaml:1", "2", "1", "major 2 is newer"]],
  stateConflict: [[".stepwise/state.json"], ["azblob https://a.blob.core.windows.net/c/state.json", "ci@runner-7 pid 42 at 2026-01-01T00:00:00Z"]],
  stateMigrated: [["file .stepwise/state.json", "azblob://acct/state/site.json", "state: { backend: azblob, options: { account: acct, container: state, blob: site.json } }"]],
  stateVersionUnknown: [["file .stepwise/state.json", "#9", 3]],
  stateCorrupt: [[".stepwise/state.json", "not JSON"]],
  stateLockBusy: [[".stepwise/state.lock", undefined]],
  stateLockNotAFile: [[".stepwise/state.lock", "a directory"]],
  stateLockBroken: [[".stepwise/state.lock"]],
  stateLockStale: [[".stepwise/state.lock", "pid 42 on other-host", "its lock expired 5 minutes ago", { holder: { pid: 42 } }]],
  stateLocked: [[".stepwise/state.lock", "pid 42 on this host", { holder: { pid: 42 } }]],
  stateMissing: [["file .stepwise/state.json"]],
  stateObjectName: [["../../etc/passwd"]],
  statePushCorrupt: [[errors.stateCorrupt("pushed.json", "not JSON")]],
  statePushRefused: [["pushed.json", "pushed.json", "file", [{ field: "site", message: "site differs" }]]],
  stateTooNew: [[".stepwise/state.json", 9, 2]],
  stepCycle: [[["a", "b", "a"]]],
  stepDependsOnDisabled: [["app", "telemetry"]],
  stepDuplicate: [["web", "a@1.0.0", "b@1.0.0"]],
  stepInterrupted: [["web", new Error("SIGINT"), "p@1.0.0"]],
  stepOutputsMissing: [["web", "database"]],
  stepUnknown: [["databse", "web", ["database"]]],
  targetAmbiguous: [["stepwise.yaml", ["one", "two"]]],
  targetMissing: [[{ step: "database", kind: "postgres" }]],
  targetNotProvided: [["stepwise.yaml:2", "three", ["one", "two"]]],
  targetUnreachable: [["podman", "database", new Error("ECONNREFUSED")]],
  targetUnsupported: [["podman", "cannot import volumes.", "use the platform's own tools"]],
  templateOutputChanged: [["out/b.conf", "tpl/b.conf"]],
  templateSecretMissing: [["tpl/.env", "smtp_password"]],
  templateTooNew: [["tpl", ".template-version", "0.2.0", "0.1.0", "minor 2 is newer"]],
  templateVersionMissing: [["tpl", ".template-version", "stepwise.yaml:5", "0.1.0"]],
  undeclaredInput: [["web", "p@1.0.0", "config", "mail.port"]],
  usage: [["unknown option --frobnicate"]],
};

/** Word by word, as a dictionary reads: `SECRET_TOO_SHORT` before `SECRETS_NOT_VERIFIED`, `secretTooShort` before `secretsNotVerified`. */
const words = (name: string) => name.replace(/[A-Z]/g, (c) => ` ${c}`).replaceAll("_", " ").toLowerCase().trim();
const alphabetical = (a: string, b: string) => (words(a) < words(b) ? -1 : words(a) > words(b) ? 1 : 0);

/** The JSDoc line above each entry of the ErrorCode table, by key. */
function codeDocs(): Map<string, string> {
  const source = readFileSync(path.join(here, "error-codes.ts"), "utf8");
  const table = source.slice(source.indexOf("export const ErrorCode = {"), source.indexOf("} as const;"));
  return new Map([...table.matchAll(/\/\*\* (.+) \*\/\n\s+(\w+): "/g)].map((m) => [m[2]!, m[1]!]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe("error codes", () => {
  it("are unique UPPER_SNAKE codes, each under its PascalCase key, in one table alphabetised by code", () => {
    const entries = Object.entries(ErrorCode);
    const codes = entries.map(([, code]) => code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [key, code] of entries) {
      expect(code).toMatch(/^[A-Z]+(_[A-Z]+)*$/);
      expect(code.toLowerCase().split("_").map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")).toBe(key);
    }
    expect(codes).toEqual([...codes].sort(alphabetical));
  });

  it("each have a one-line JSDoc that says what the code means and its exit code", () => {
    const docs = codeDocs();
    expect([...docs.keys()]).toEqual(Object.keys(ErrorCode));
    for (const [key, doc] of docs) expect(doc, key).toMatch(/\. Exit \d+[.;]/);
  });

  it("every factory (alphabetised) returns a StepwiseError with a code from the table and an exit code its JSDoc names; every code has a factory", () => {
    const names = Object.keys(errors);
    expect(names).toEqual([...names].sort(alphabetical));
    expect(Object.keys(samples).sort()).toEqual([...names].sort());
    const docs = codeDocs();
    const keyOf = new Map(Object.entries(ErrorCode).map(([key, code]) => [code as string, key]));
    const raised = new Set<string>();
    for (const name of names) {
      const factory = errors[name as keyof typeof errors] as (...args: unknown[]) => unknown;
      for (const args of samples[name as keyof typeof samples] as unknown[][]) {
        const error = factory(...args);
        expect(error, name).toBeInstanceOf(StepwiseError);
        const { code, exitCode } = error as StepwiseError;
        expect(keyOf.has(code), `${name} returns ${code}`).toBe(true);
        const doc = docs.get(keyOf.get(code)!)!;
        const documented = doc.slice(doc.indexOf("Exit "));
        expect(documented.match(/\d+/g), `${name}: exit ${exitCode}, documented "${documented}"`).toContain(String(exitCode));
        raised.add(code);
      }
    }
    expect([...raised].sort(alphabetical)).toEqual(Object.values(ErrorCode));
  });

  it("are raised through the factories: no `new StepwiseError(` in core outside errors/, nor in the CLI", () => {
    const offenders = [...sourceFiles(coreSrc), ...sourceFiles(cliSrc)]
      .filter((file) => !file.startsWith(here + path.sep))
      .filter((file) => /new\s+StepwiseError\s*\(/.test(readFileSync(file, "utf8")))
      .map((file) => path.relative(path.resolve(coreSrc, "../../.."), file));
    expect(offenders).toEqual([]);
    expect(sourceFiles(coreSrc).length).toBeGreaterThan(50);
    expect(sourceFiles(cliSrc).length).toBeGreaterThan(10);
  });
});
