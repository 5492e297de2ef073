import {
  BACKUP_DIR,
  SAFETY_BACKUPS_KEPT,
  createBackup,
  createSafetyBackup,
  errors,
  listBackups,
  listSafetyBackups,
  pruneSafetyBackups,
  restoreBackup,
  verifyBackup,
  type BackupManifest,
  type SiteSession,
  type TargetSession,
} from "@stepwise/core/engine";
import { rmSync, statSync } from "node:fs";
import path from "node:path";
import type { GlobalOptions } from "../global-options.js";
import { formatSize } from "../output/format-size.js";
import { approvedCommand, confirmDestruction, type Destruction } from "./confirm-destruction.js";
import { openSession, printJson } from "./open-session.js";
import { formatUptime } from "./status.js";

/** The target's session, or a clear error when the target lacks this operation. */
async function targetFor<K extends keyof TargetSession>(session: SiteSession, operation: K, command: string): Promise<TargetSession & Required<Pick<TargetSession, K>>> {
  const target = await session.connectTarget();
  if (typeof target[operation] !== "function") {
    throw errors.targetUnsupported(session.target?.definition.name, `does not support \`stepwise ${command}\`.`, "use the platform's own tools for this");
  }
  return target as TargetSession & Required<Pick<TargetSession, K>>;
}

export async function restartCommand(globals: GlobalOptions, service: string | undefined): Promise<void> {
  const session = await openSession(globals);
  try {
    const restarted = await (await targetFor(session, "restart", "restart")).restart(service);
    if (globals.json) printJson(session, { restarted });
    else process.stdout.write(restarted.length ? `Restarted ${restarted.join(", ")}.\n` : "Nothing to restart.\n");
  } finally {
    await session.close();
  }
}

export async function logsCommand(globals: GlobalOptions, service: string, flags: { follow?: boolean; tail?: number }): Promise<void> {
  const session = await openSession(globals);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  try {
    const stream = await (await targetFor(session, "logs", "logs")).logs(service, { follow: flags.follow === true, tail: flags.tail, signal: abort.signal });
    // Redact whole lines: a secret split across two chunks must not slip through.
    let pending = "";
    for await (const chunk of stream) {
      pending += String(chunk);
      const end = pending.lastIndexOf("\n");
      if (end < 0) continue;
      process.stdout.write(session.redactor.redact(pending.slice(0, end + 1)));
      pending = pending.slice(end + 1);
    }
    if (pending) process.stdout.write(session.redactor.redact(pending));
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    process.off("SIGINT", stop);
    await session.close();
  }
}

export interface DownFlags {
  volumes?: boolean;
  /** `--no-final-backup` makes it false. */
  finalBackup?: boolean;
  autoApprove?: boolean;
}

/**
 * Removes what the site runs. When that loses data (`--volumes` on Podman; any `down` that
 * deletes a whole Azure resource group) it asks first (see {@link confirmDestruction}) and
 * writes a final backup before deleting anything, unless `--no-final-backup`.
 */
export async function downCommand(globals: GlobalOptions, flags: DownFlags): Promise<void> {
  const session = await openSession(globals);
  try {
    const target = await targetFor(session, "down", "down");
    const volumes = flags.volumes === true;
    const targetName = session.target!.definition.name;
    const preview = target.describeDown
      ? await target.describeDown({ volumes })
      : { removes: [], data: volumes ? [{ name: `every volume target ${targetName} made for site ${session.site.name}` }] : [] };
    const losesData = preview.data.length > 0;
    const finalBackup = losesData && flags.finalBackup !== false;
    if (finalBackup && !target.exportVolumes) {
      throw errors.targetUnsupported(
        targetName,
        "cannot export the site's data, so stepwise down cannot write the final backup it writes before deleting data. Nothing was changed.",
        `back the data up with the platform's own tools, then: ${approvedCommand().replace(/ --auto-approve$/, " --no-final-backup")}`,
      );
    }
    if (losesData) {
      const others = preview.removes.filter((r) => !preview.data.some((d) => d.name === r));
      const approved = await confirmDestruction(
        {
          site: session.site.name,
          what: `stepwise down${volumes ? " --volumes" : ""} deletes the data of site ${session.site.name}`,
          items: [...preview.data.map((d) => `${d.name}${d.bytes === undefined ? "" : ` (${formatSize(d.bytes)})`}: its data is deleted`), ...(others.length ? [`also removed, which deploy makes again: ${others.join(", ")}`] : [])],
          notes: [
            finalBackup
              ? `A final backup (volumes, encrypted secrets, state) is written to ${BACKUP_DIR}/ first; stepwise backup restore brings it back. (--no-final-backup skips it.)`
              : "No final backup is written (--no-final-backup): the data is gone for good.",
          ],
          severity: "delete",
        },
        { autoApprove: flags.autoApprove, json: globals.json },
      );
      if (!approved) return;
    }
    const lock = await session.lockSite("down");
    let backup: Awaited<ReturnType<typeof createSafetyBackup>> | undefined;
    let removed: string[];
    try {
      if (finalBackup) backup = await createSafetyBackup(session, "before-down");
      removed = await target.down({ volumes });
    } finally {
      await lock.release();
    }
    if (globals.json) {
      printJson(session, { removed, finalBackup: backup ? { file: backup.file, bytes: backup.bytes, restore: restoreCommand(globals, backup.file) } : null, pruned: backup?.pruned ?? [] });
      return;
    }
    if (backup) process.stdout.write(`Wrote the final backup ${displayPath(backup.file)} (${formatSize(backup.bytes)}).\n${prunedNote(backup.pruned)}`);
    process.stdout.write(removed.length ? `Removed ${removed.join(", ")}.\n` : "Nothing was running.\n");
    if (backup) process.stdout.write(`The data was deleted. To bring it back: ${restoreCommand(globals, backup.file)}, then stepwise deploy\n`);
    else if (losesData) process.stdout.write("The data was deleted (no final backup was written).\n");
    else process.stdout.write(volumes ? "There were no volumes to remove.\n" : "Volumes were kept (stepwise down --volumes removes them). Run stepwise deploy to bring the site back.\n");
  } finally {
    await session.close();
  }
}

/** `stepwise backup restore FILE` as the person can type it from here (with -C when the site is elsewhere). */
function restoreCommand(globals: GlobalOptions, file: string): string {
  const site = path.resolve(globals.site) === process.cwd() ? "" : ` -C ${displayPath(globals.site)}`;
  return `stepwise backup restore ${displayPath(file)}${site}`;
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), path.resolve(file));
  return relative.startsWith("..") || relative === "" ? path.resolve(file) : relative;
}

function prunedNote(pruned: readonly string[]): string {
  return pruned.length ? `Deleted ${pruned.length} older safety backup${pruned.length === 1 ? "" : "s"} (stepwise keeps the newest ${SAFETY_BACKUPS_KEPT}): ${pruned.map(displayPath).join(", ")}\n` : "";
}

export async function backupCreateCommand(globals: GlobalOptions, flags: { output?: string }): Promise<void> {
  const session = await openSession(globals);
  try {
    const backup = await createBackup(session, { output: flags.output });
    if (globals.json) printJson(session, { file: backup.file, bytes: backup.bytes, manifest: backup.manifest });
    else
      process.stdout.write(
        `Wrote ${backup.file} (${formatSize(backup.bytes)}: ${backup.manifest.volumes.length} volume${backup.manifest.volumes.length === 1 ? "" : "s"}, encrypted secrets, state).\n` +
          "The age identity is not in the archive: keep .stepwise/age-identity.txt (or STEPWISE_AGE_IDENTITY) safe separately.\n",
      );
  } finally {
    await session.close();
  }
}

export async function backupListCommand(globals: GlobalOptions, flags: { dir?: string }): Promise<void> {
  const session = await openSession(globals);
  const rows = [];
  for (const file of listBackups(session, { dir: flags.dir })) {
    try {
      const { manifest, dir } = await verifyBackup(session, file);
      rmSync(dir, { recursive: true, force: true });
      rows.push({ file, createdAt: manifest.createdAt, reason: manifest.reason ?? null, volumes: manifest.volumes, bytes: statSync(file).size, ok: true, problem: null as string | null });
    } catch (error) {
      rows.push({ file, createdAt: null, reason: null, volumes: [], bytes: statSync(file).size, ok: false, problem: (error as Error).message });
    }
  }
  if (globals.json) {
    printJson(session, { backups: rows });
    return;
  }
  if (rows.length === 0) {
    process.stdout.write("No backups yet. Make one with: stepwise backup create\n");
    return;
  }
  for (const r of rows) {
    process.stdout.write(r.ok ? `${path.relative(process.cwd(), r.file)}  ${r.createdAt}  ${formatSize(r.bytes)}  volumes: ${r.volumes.join(", ") || "none"}${r.reason ? `  (safety backup, ${r.reason})` : ""}\n` : `${r.file}  UNUSABLE: ${r.problem}\n`);
  }
}

/**
 * Restores an archive after saying what it replaces and asking (see {@link confirmDestruction}),
 * having first written a copy of what it replaces, so a wrong restore is undone with one command.
 */
export async function backupRestoreCommand(globals: GlobalOptions, file: string, flags: { autoApprove?: boolean }): Promise<void> {
  const session = await openSession(globals);
  try {
    const result = await restoreBackup(session, path.resolve(file), {
      keepCopy: true,
      confirm: async (manifest) => confirmDestruction(await describeRestore(session, file, manifest), { autoApprove: flags.autoApprove, json: globals.json }),
    });
    if (!result) return;
    const { manifest, copy } = result;
    if (globals.json) {
      printJson(session, { restored: file, manifest, replacedCopy: copy ? { file: copy.file, bytes: copy.bytes, restore: restoreCommand(globals, copy.file) } : null, pruned: copy?.pruned ?? [] });
      return;
    }
    if (copy) process.stdout.write(`Wrote a copy of what this restore replaced: ${displayPath(copy.file)}. To undo the restore: ${restoreCommand(globals, copy.file)}\n${prunedNote(copy.pruned)}`);
    process.stdout.write(`Restored ${manifest.volumes.length} volume(s), secrets and state from ${file} (made ${manifest.createdAt}). Next: stepwise deploy\n`);
  } finally {
    await session.close();
  }
}

/** What restoring `manifest` replaces: the live volumes (with sizes), the secrets file, the state. */
async function describeRestore(session: SiteSession, file: string, manifest: BackupManifest): Promise<Destruction> {
  const target = await session.connectTarget();
  const live = target.describeDown ? (await target.describeDown({ volumes: true })).data : [];
  const items = manifest.volumes.map((volume) => {
    const now = live.find((d) => d.name === `volume ${volume}`);
    const current = now === undefined ? "does not exist now; it is created" : `its current data${now.bytes === undefined ? "" : ` (${formatSize(now.bytes)})`} is replaced`;
    return `volume ${volume}: ${current}`;
  });
  if (manifest.files["secrets.age"]) {
    const set = (await session.secretStatus()).filter((s) => s.set).map((s) => s.name);
    items.push(`secrets: .stepwise/secrets.age${set.length ? ` (now holding ${set.join(", ")})` : ""} is replaced by the archive's`);
  }
  if (manifest.files["state.json"]) {
    const { state } = await session.stateBackend.read();
    items.push(state ? `state: serial ${state.serial}, written ${formatUptime(Date.now() - Date.parse(state.updatedAt))} ago, is replaced by the archive's` : "state: none now; the archive's is written");
  }
  return {
    site: session.site.name,
    what: `stepwise backup restore replaces the data of site ${session.site.name} with ${file}, made ${formatUptime(Date.now() - Date.parse(manifest.createdAt))} ago (${manifest.createdAt})`,
    items,
    notes: [`A copy of what is replaced is written to ${BACKUP_DIR}/ first; restoring that copy undoes this.`],
    severity: "replace",
  };
}

/** Deletes the oldest safety archives (of `down --volumes` and `backup restore`) beyond `keep`, after asking. */
export async function backupPruneCommand(globals: GlobalOptions, flags: { keep: number; autoApprove?: boolean }): Promise<void> {
  const session = await openSession(globals);
  const all = listSafetyBackups(session);
  const doomed = all.slice(0, Math.max(0, all.length - flags.keep));
  if (doomed.length > 0) {
    const approved = await confirmDestruction(
      {
        site: session.site.name,
        what: `stepwise backup prune deletes ${doomed.length} safety backup${doomed.length === 1 ? "" : "s"} of site ${session.site.name}, keeping the newest ${flags.keep}`,
        items: doomed.map((f) => `${displayPath(f)} (${formatSize(statSync(f).size)})`),
        severity: "replace",
      },
      { autoApprove: flags.autoApprove, json: globals.json },
    );
    if (!approved) return;
  }
  const deleted = pruneSafetyBackups(session, { keep: flags.keep });
  if (globals.json) printJson(session, { deleted, kept: listSafetyBackups(session) });
  else process.stdout.write(deleted.length ? `Deleted ${deleted.map(displayPath).join(", ")}.\n` : `Nothing to prune: ${all.length} safety backup${all.length === 1 ? "" : "s"}, keeping ${flags.keep}.\n`);
}
