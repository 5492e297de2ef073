import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import {
  CORE_VERSION,
  SITE_LOCK_TTL_MS,
  STATE_HISTORY_KEEP,
  createBackend,
  currentHolder,
  errors,
  readState,
  stateSettingFor,
  type JsonObject,
  type SiteSession,
  type StateBackend,
  type StateDocument,
} from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

/** The earlier documents the backend keeps, numbered 1 (the newest) up. */
async function keptVersions(session: SiteSession) {
  const backend = session.stateBackend;
  if (!backend.history || !backend.readVersion) {
    throw errors.usage(`The state backend (${backend.description}) keeps no earlier states.`, "use stepwise backup create / backup restore for this backend");
  }
  return backend.history();
}

export async function stateHistoryCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const versions = await keptVersions(session);
  if (globals.json) {
    printJson(session, { backend: session.stateBackend.description, keeps: STATE_HISTORY_KEEP, versions: versions.map((v, i) => ({ number: i + 1, ...v })) });
    return;
  }
  if (versions.length === 0) {
    process.stdout.write(`No earlier states kept yet in ${session.stateBackend.description} (each write keeps the one it replaces; the last ${STATE_HISTORY_KEEP} are kept).\n`);
    return;
  }
  const lines = [`Earlier states kept in ${session.stateBackend.description} (newest first; the last ${STATE_HISTORY_KEEP} writes are kept):`];
  versions.forEach((v, i) => lines.push(`  ${String(i + 1).padStart(3)}  serial ${v.serial}  replaced ${v.keptAt}${v.writer ? `  written by ${v.writer}` : ""}`));
  lines.push("Restore one with: stepwise state restore N");
  process.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * Makes kept version `number` (1 = newest, as `state history` numbers them) the current state,
 * under the site lock, as a new write (serial above the current one): the state it replaces is
 * kept in turn, so a restore can itself be undone.
 */
export async function stateRestoreCommand(globals: GlobalOptions, number: string): Promise<void> {
  const session = await openSession(globals);
  const n = Number(number);
  const backend = session.stateBackend;
  const result = await session.underLock("state restore", async () => {
    const versions = await keptVersions(session);
    const version = Number.isInteger(n) && n >= 1 ? versions[n - 1] : undefined;
    if (!version) throw errors.stateVersionUnknown(backend.description, `#${number}`, versions.length);
    const kept = await backend.readVersion!(version.id);
    const { state: current, etag } = await backend.read();
    const serial = (current?.serial ?? 0) + 1;
    await backend.write({ ...kept, serial, writtenBy: CORE_VERSION, updatedAt: new Date().toISOString() }, etag);
    return { restored: version, from: current?.serial ?? null, to: serial };
  });
  if (globals.json) printJson(session, { backend: backend.description, restored: { number: n, ...result.restored }, serial: { from: result.from, to: result.to } });
  else process.stdout.write(`Restored the state kept as #${n} (serial ${result.restored.serial}) in ${backend.description}, written as serial ${result.to}; the state it replaced is kept as #1. Run stepwise plan to see what the next deploy does.\n`);
}

/** `--to` of state migrate: `azblob://ACCOUNT/CONTAINER/BLOB`, `file` or `file:PATH`. */
function parseTarget(to: string): { backend: string; options: JsonObject } {
  const azblob = /^azblob:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(to);
  if (azblob) return { backend: "azblob", options: { account: azblob[1]!, container: azblob[2]!, blob: azblob[3]! } };
  if (to === "file") return { backend: "file", options: {} };
  if (to.startsWith("file:") && to.length > "file:".length) return { backend: "file", options: { path: to.slice("file:".length) } };
  throw errors.usage(`--to ${JSON.stringify(to)} names no state backend.`, "stepwise state migrate --to azblob://ACCOUNT/CONTAINER/BLOB   (or --to file, --to file:PATH)");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * Copies the state (document and objects) to another backend under both locks, reads the copy
 * back to verify it, then marks the source as migrated: a later run against the source is
 * refused (exit 2) naming the new place. The document is copied as it is (same serial and
 * lineage), so a round trip gives the same bytes back.
 */
export async function stateMigrateCommand(globals: GlobalOptions, options: { to: string; force?: boolean }): Promise<void> {
  const session = await openSession(globals);
  const wanted = parseTarget(options.to);
  const source = session.stateBackend;
  const ctx = { siteDir: session.site.dir, siteName: session.site.name, warn: (message: string) => process.stderr.write(`warning: ${message}\n`) };
  const target: StateBackend = await createBackend("state", wanted.backend, wanted.options, session.plugins, ctx);
  const from = source.address ?? source.description;
  const to = target.address ?? target.description;
  if (from === to) throw errors.usage(`The state already lives in ${to}.`, "stepwise state migrate --to azblob://ACCOUNT/CONTAINER/BLOB   (or --to file)");
  const result = await session.underLock("state migrate", async () => {
    const targetLock = await target.lock(currentHolder("state migrate"), SITE_LOCK_TTL_MS);
    try {
      const { state } = await readState(source);
      if (!state) throw errors.stateMissing(source.description);
      const existing = await target.read({ allowMigrated: true });
      if (existing.state && existing.state.migratedTo === undefined && !options.force) {
        throw errors.usage(
          `${target.description} already holds a state (serial ${existing.state.serial}, lineage ${existing.state.lineage}) that was not migrated away; nothing was changed.`,
          `stepwise state migrate --to ${options.to} --force   (replaces it; its document is kept in that backend's history)`,
        );
      }
      const hashes = await source.listObjects();
      for (const hash of hashes) {
        const bytes = await source.getObject(hash);
        if (bytes !== undefined && sha256(bytes) === hash) await target.putObject(hash, bytes);
      }
      await target.write(state, existing.etag);
      // Verify by reading the copy back: the document and every object.
      const copy = await target.read();
      if (!isDeepStrictEqual(copy.state, state)) throw errors.stateCorrupt(target.description, "the copy read back differs from the source; the source was left as it was");
      for (const hash of hashes) {
        const bytes = await target.getObject(hash);
        if (bytes === undefined || sha256(bytes) !== hash) throw errors.stateCorrupt(target.description, `object ${hash} read back differs from the source; the source was left as it was`);
      }
      const marked = await source.read();
      await source.write({ ...state, migratedTo: to } as StateDocument, marked.etag);
      return { serial: state.serial, steps: Object.keys(state.steps).length, objects: hashes.length };
    } finally {
      await targetLock.release();
    }
  });
  const setting = stateSettingFor(to);
  if (globals.json) {
    printJson(session, { from, to, ...result, verified: true, setting });
    return;
  }
  process.stdout.write(
    `Migrated the state (serial ${result.serial}, ${result.steps} steps, ${result.objects} objects) from ${from} to ${to}; the copy was read back and matches. ` +
      `${source.description} is marked as migrated: runs against it are refused.\nNow point stepwise.yaml at the new state: ${setting}\n`,
  );
}
