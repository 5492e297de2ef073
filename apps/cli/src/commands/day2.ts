import { ErrorCode, StepwiseError, createBackup, listBackups, restoreBackup, verifyBackup, type SiteSession, type TargetSession } from "@stepwise/core/engine";
import { rmSync, statSync } from "node:fs";
import path from "node:path";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

/** The target's session, or a clear error when the target lacks this operation. */
async function targetFor<K extends keyof TargetSession>(session: SiteSession, operation: K, command: string): Promise<TargetSession & Required<Pick<TargetSession, K>>> {
  const target = await session.connectTarget();
  if (typeof target[operation] !== "function") {
    throw new StepwiseError(ErrorCode.TargetUnsupported, `Target ${session.target?.definition.name} does not support \`stepwise ${command}\`.`, {
      hint: "use the platform's own tools for this",
    });
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

export async function downCommand(globals: GlobalOptions, flags: { volumes?: boolean }): Promise<void> {
  const session = await openSession(globals);
  try {
    const removed = await (await targetFor(session, "down", "down")).down({ volumes: flags.volumes === true });
    if (globals.json) printJson(session, { removed });
    else {
      process.stdout.write(removed.length ? `Removed ${removed.join(", ")}.\n` : "Nothing was running.\n");
      process.stdout.write(flags.volumes ? "Volumes were removed too.\n" : "Volumes were kept (stepwise down --volumes removes them). Run stepwise deploy to bring the site back.\n");
    }
  } finally {
    await session.close();
  }
}

export async function backupCreateCommand(globals: GlobalOptions, flags: { output?: string }): Promise<void> {
  const session = await openSession(globals);
  try {
    const backup = await createBackup(session, { output: flags.output });
    if (globals.json) printJson(session, { file: backup.file, bytes: backup.bytes, manifest: backup.manifest });
    else
      process.stdout.write(
        `Wrote ${backup.file} (${(backup.bytes / 1024).toFixed(0)} KiB: ${backup.manifest.volumes.length} volume${backup.manifest.volumes.length === 1 ? "" : "s"}, encrypted secrets, state).\n` +
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
      rows.push({ file, createdAt: manifest.createdAt, volumes: manifest.volumes, bytes: statSync(file).size, ok: true, problem: null as string | null });
    } catch (error) {
      rows.push({ file, createdAt: null, volumes: [], bytes: statSync(file).size, ok: false, problem: (error as Error).message });
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
    process.stdout.write(r.ok ? `${path.relative(process.cwd(), r.file)}  ${r.createdAt}  ${(r.bytes / 1024).toFixed(0)} KiB  volumes: ${r.volumes.join(", ") || "none"}\n` : `${r.file}  UNUSABLE: ${r.problem}\n`);
  }
}

export async function backupRestoreCommand(globals: GlobalOptions, file: string): Promise<void> {
  const session = await openSession(globals);
  try {
    const manifest = await restoreBackup(session, path.resolve(file));
    if (globals.json) printJson(session, { restored: file, manifest });
    else process.stdout.write(`Restored ${manifest.volumes.length} volume(s), secrets and state from ${file} (made ${manifest.createdAt}). Next: stepwise deploy\n`);
  } finally {
    await session.close();
  }
}
