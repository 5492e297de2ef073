import { nodeCrypto } from "../fingerprint/node-crypto.js";
import { listFilesRecursive } from "../files/list-files.js";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { copyFile, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { errors } from "../errors/error-codes.js";
import type { SiteSession } from "../engine/site-session.js";
import { parseState } from "../state/state-document.js";
import { storeInlineListings, withInlineListings } from "../state/state-listings.js";
import { CORE_VERSION } from "../version.js";

export const BACKUP_DIR = ".stepwise/backups";
const MANIFEST = "manifest.json";
const FORMAT = "stepwise-backup/1";

/**
 * Why an archive was written when stepwise wrote it on its own, as a safety net: the final
 * backup of `down --volumes`, the copy of what `backup restore` replaced. The reason ends the
 * file name (`<site>-<time>-before-down.tar.gz`); an archive of `backup create` has none.
 */
export type SafetyBackupReason = "before-down" | "before-restore";

/**
 * How many safety archives (of both reasons together) a site keeps in .stepwise/backups: when
 * one more is written, the oldest beyond this many are deleted. `backup create`'s archives are
 * never deleted by stepwise.
 */
export const SAFETY_BACKUPS_KEPT = 5;

export interface BackupManifest {
  format: typeof FORMAT;
  site: string;
  createdAt: string;
  writtenBy: string;
  /** Set when stepwise wrote it as a safety net; absent for `backup create`. */
  reason?: SafetyBackupReason;
  /** Path inside the archive -> sha256 of its bytes. */
  files: Record<string, string>;
  volumes: string[];
}

export interface BackupInfo {
  file: string;
  manifest: BackupManifest;
  bytes: number;
}

/**
 * One archive with the site's volume data (from the target), its encrypted secrets (the age
 * file as it is: the identity is NOT included; keep it safe separately) and its state, with a
 * manifest of sha256 checksums. Written to a temp name and renamed, so a failed backup never
 * leaves a partial archive under the final name.
 */
export async function createBackup(session: SiteSession, options: { output?: string; reason?: SafetyBackupReason } = {}): Promise<BackupInfo> {
  const target = await session.connectTarget();
  if (!target.exportVolumes) {
    throw errors.targetUnsupported(session.target!.definition.name, "cannot export volumes, so it cannot be backed up here.", "use the platform's own backup");
  }
  const work = mkdtempSync(path.join(os.tmpdir(), "stepwise-backup-"));
  try {
    const volumesDir = path.join(work, "volumes");
    mkdirSync(volumesDir);
    const volumes = await target.exportVolumes(volumesDir);
    const { state } = await session.stateBackend.read();
    // The archive's state carries its file listings inline: it needs no object store to restore.
    if (state) await writeFile(path.join(work, "state.json"), `${JSON.stringify(await withInlineListings(session.stateBackend, state), null, 2)}\n`);
    const secretsFile = path.join(session.site.dir, ".stepwise", "secrets.age");
    if (existsSync(secretsFile)) await copyFile(secretsFile, path.join(work, "secrets.age"));
    const files: Record<string, string> = {};
    for (const file of listFilesRecursive(work)) files[file] = await sha256File(path.join(work, file));
    const manifest: BackupManifest = { format: FORMAT, site: session.site.name, createdAt: new Date().toISOString(), writtenBy: CORE_VERSION, ...(options.reason ? { reason: options.reason } : {}), files, volumes };
    await writeFile(path.join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);

    const outDir = path.resolve(session.site.dir, options.output ?? BACKUP_DIR);
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    const stamp = manifest.createdAt.replace(/[:.]/g, "-");
    const final = path.join(outDir, `${session.site.name}-${stamp}${options.reason ? `-${options.reason}` : ""}.tar.gz`);
    const temp = `${final}.${process.pid}.partial`;
    const tar = await import("tar");
    await tar.create({ gzip: true, file: temp, cwd: work, portable: true, mode: 0o600 } as never, [MANIFEST, ...Object.keys(files)]);
    await rename(temp, final);
    return { file: final, manifest, bytes: statSync(final).size };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function listBackups(session: SiteSession, options: { dir?: string } = {}): string[] {
  const dir = path.resolve(session.site.dir, options.dir ?? BACKUP_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".tar.gz"))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Writes a safety archive (see {@link SafetyBackupReason}) under .stepwise/backups, then
 * deletes the oldest safety archives beyond {@link SAFETY_BACKUPS_KEPT}, never `keep` (the
 * archive being restored). Returns the archive and what was pruned.
 */
export async function createSafetyBackup(session: SiteSession, reason: SafetyBackupReason, keep?: string): Promise<BackupInfo & { pruned: string[] }> {
  const backup = await createBackup(session, { reason });
  const pruned = pruneSafetyBackups(session, { keep: SAFETY_BACKUPS_KEPT, except: [backup.file, ...(keep ? [path.resolve(keep)] : [])] });
  return { ...backup, pruned };
}

/** The safety archives of the site in .stepwise/backups, oldest first (their names sort by time). */
export function listSafetyBackups(session: SiteSession): string[] {
  return listBackups(session).filter((file) => /-(before-down|before-restore)\.tar\.gz$/.test(file) && path.basename(file).startsWith(`${session.site.name}-`));
}

/**
 * Deletes the oldest safety archives so that `keep` remain (those in `except` are neither
 * deleted nor counted out). `backup create`'s archives are never touched. Returns what it deleted.
 */
export function pruneSafetyBackups(session: SiteSession, options: { keep: number; except?: readonly string[] }): string[] {
  const except = new Set(options.except ?? []);
  const candidates = listSafetyBackups(session);
  const surplus = candidates.length - options.keep;
  if (surplus <= 0) return [];
  const doomed = candidates.filter((file) => !except.has(file)).slice(0, surplus);
  for (const file of doomed) rmSync(file, { force: true });
  return doomed;
}

/** Reads and checks an archive (manifest, every checksum, the site) without changing anything. */
export async function verifyBackup(session: SiteSession, file: string): Promise<{ manifest: BackupManifest; dir: string }> {
  const work = mkdtempSync(path.join(os.tmpdir(), "stepwise-restore-"));
  const refuse = (problem: string): never => {
    rmSync(work, { recursive: true, force: true });
    throw errors.backupInvalid(file, problem, session.site.name);
  };
  if (!existsSync(file)) refuse("the file does not exist");
  try {
    const tar = await import("tar");
    await tar.extract({ file, cwd: work, strict: true, preservePaths: false } as never);
  } catch (error) {
    refuse(`it is not a readable archive (${(error as Error).message})`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(work, MANIFEST), "utf8")) as BackupManifest;
  } catch {
    return refuse("it has no readable manifest.json");
  }
  if (manifest.format !== FORMAT) refuse(`its format is ${JSON.stringify(manifest.format)}, expected ${FORMAT}`);
  if (manifest.site !== session.site.name) refuse(`it belongs to site "${manifest.site}", not "${session.site.name}"`);
  const present = new Set(listFilesRecursive(work).filter((f) => f !== MANIFEST));
  for (const [name, expected] of Object.entries(manifest.files)) {
    if (!present.has(name)) refuse(`${name} is listed in the manifest but missing`);
    if ((await sha256File(path.join(work, name))) !== expected) refuse(`${name} does not match its checksum (the archive is corrupt)`);
    present.delete(name);
  }
  if (present.size > 0) refuse(`it holds files the manifest does not list: ${[...present].join(", ")}`);
  if (manifest.files["state.json"]) parseState(await readFile(path.join(work, "state.json"), "utf8"), `${file}:state.json`);
  return { manifest, dir: work };
}

export interface RestoreOptions {
  /**
   * Called with the checked archive's manifest before anything is changed (and before the lock
   * is taken: a person may take their time); `false` stops the restore with nothing changed.
   */
  confirm?: (manifest: BackupManifest) => Promise<boolean>;
  /** First write a safety archive of what the restore replaces (`before-restore`). */
  keepCopy?: boolean;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** The safety archive of what was replaced, with `keepCopy`. */
  copy?: BackupInfo & { pruned: string[] };
}

/**
 * Restores volumes, secrets and state from an archive that passed {@link verifyBackup}. The
 * running site is only touched after every check passed, `confirm` said yes and (with
 * `keepCopy`) a copy of what it replaces was written. Undefined when `confirm` said no.
 */
export async function restoreBackup(session: SiteSession, file: string, options: RestoreOptions = {}): Promise<RestoreResult | undefined> {
  const { manifest, dir } = await verifyBackup(session, file);
  const approved = await (options.confirm?.(manifest) ?? Promise.resolve(true)).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  if (!approved) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  const lock = await session.lockSite("backup restore").catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  try {
    const target = await session.connectTarget();
    if (!target.importVolumes) {
      throw errors.targetUnsupported(session.target!.definition.name, "cannot import volumes.", "restore the data with the platform's own tools");
    }
    const copy = options.keepCopy ? await createSafetyBackup(session, "before-restore", file) : undefined;
    if (manifest.volumes.length > 0) await target.importVolumes(path.join(dir, "volumes"));
    if (manifest.files["secrets.age"]) {
      const secretsFile = path.join(session.site.dir, ".stepwise", "secrets.age");
      mkdirSync(path.dirname(secretsFile), { recursive: true, mode: 0o700 });
      await copyFile(path.join(dir, "secrets.age"), `${secretsFile}.restore`);
      await rename(`${secretsFile}.restore`, secretsFile);
    }
    if (manifest.files["state.json"]) {
      const restored = parseState(await readFile(path.join(dir, "state.json"), "utf8"), file);
      const { etag } = await session.stateBackend.read();
      const document = { ...restored, serial: restored.serial + 1, updatedAt: new Date().toISOString() };
      await storeInlineListings(session.stateBackend, document);
      await session.stateBackend.write(document, etag);
    }
    return { manifest, copy };
  } finally {
    await lock.release();
    rmSync(dir, { recursive: true, force: true });
  }
}


async function sha256File(file: string): Promise<string> {
  const hash = nodeCrypto().createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
