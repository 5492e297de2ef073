import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { inspectContainer, listContainers, removeContainer, startContainer, tailLogs } from "./container-ops.js";
import { helperHint } from "./container-resource.js";
import { podmanErrors } from "./errors.js";
import { ensureImage } from "./images.js";
import { Label, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";
import type { PodmanSettings } from "./settings.js";
import { ensureVolume, listSiteVolumes } from "./site-objects.js";
import type { StepLogger } from "@stepwise/core";

interface HelperRun {
  api: PodmanApi;
  names: SiteNames;
  settings: PodmanSettings;
  log: StepLogger;
  signal: AbortSignal;
}

/**
 * Writes `<dir>/<volume>.tar` for every volume of the site (a tar of the volume's root, with
 * owners and modes), using a short-lived helper container (busybox tar) that mounts the volume
 * and `dir`. Containers using a volume are paused while it is archived, so the archive is a
 * crash-consistent snapshot. Each archive is written to a temporary name and renamed when
 * complete, so a failed export never leaves a truncated `.tar`. Returns the volume names.
 * The Podman service must see `dir` (local Podman).
 */
export async function exportVolumes(run: HelperRun, directory: string): Promise<string[]> {
  const dir = resolve(directory);
  mkdirSync(dir, { recursive: true });
  const volumes = await listSiteVolumes(run.api, run.names, run.signal);
  const done: string[] = [];
  for (const volume of volumes) {
    const users = await containersUsing(run, volume.Name, true);
    const paused: string[] = [];
    for (const c of users) {
      try {
        await run.api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(c)}/pause`, signal: run.signal, what: `pause ${c}` });
        paused.push(c);
      } catch (error) {
        run.log.warn(`could not pause ${c} while archiving ${volume.Name}; the archive may be inconsistent (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    try {
      run.log.progress(`exporting volume ${volume.Name}`);
      const temp = `.${volume.Name}.tar.partial`;
      await runHelper(run, volume.Name, dir, ["tar", "-cf", `/backup/${temp}`, "-C", "/volume", "."]);
      renameSync(resolve(dir, temp), resolve(dir, `${volume.Name}.tar`));
      done.push(volume.Name);
    } finally {
      for (const c of paused) {
        await run.api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(c)}/unpause`, what: `unpause ${c}` }).catch(() => undefined);
      }
      rmSync(resolve(dir, `.${volume.Name}.tar.partial`), { force: true });
    }
  }
  return done;
}

/**
 * Restores every `<dir>/stepwise-<site>-*.tar` into the volume of that name (created when
 * missing): the volume is emptied, then the archive unpacked with owners and modes.
 * Running containers that use the volume are stopped first and started again afterwards.
 * Returns the volume names restored. Failure mid-way leaves that volume partly restored;
 * running the import again finishes it.
 */
export async function importVolumes(run: HelperRun, directory: string): Promise<string[]> {
  const dir = resolve(directory);
  const prefix = `${run.names.prefix}-`;
  const archives = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".tar"))
    .sort();
  const done: string[] = [];
  for (const file of archives) {
    const volumeName = file.slice(0, -".tar".length);
    await ensureVolume(run.api, run.names, volumeName.slice(prefix.length), run.signal);
    const users = await containersUsing(run, volumeName, true);
    for (const c of users) await run.api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(c)}/stop`, query: { timeout: 30 }, signal: run.signal, what: `stop ${c}` }).catch(() => undefined);
    try {
      run.log.progress(`importing volume ${volumeName}`);
      await runHelper(run, volumeName, dir, ["sh", "-c", 'find /volume -mindepth 1 -maxdepth 1 -exec rm -rf {} + && tar -xpf "/backup/$1" -C /volume', "restore", file]);
      done.push(volumeName);
    } finally {
      for (const c of users) await startContainer(run.api, c, run.signal).catch((error) => run.log.warn(`could not start ${c} again: ${error instanceof Error ? error.message : String(error)}`));
    }
  }
  return done;
}

async function containersUsing(run: HelperRun, volume: string, runningOnly: boolean): Promise<string[]> {
  const all = await listContainers(run.api, [`${Label.Site}=${run.names.site}`], run.signal);
  const out: string[] = [];
  for (const c of all) {
    if (runningOnly && c.State !== "running") continue;
    const name = c.Names[0];
    if (!name) continue;
    const info = await inspectContainer(run.api, name, run.signal);
    if (info?.Mounts?.some((m) => m.Name === volume)) out.push(name);
  }
  return out;
}

async function runHelper(run: HelperRun, volume: string, hostDir: string, command: string[]): Promise<void> {
  const helper = await ensureImage(run.api, run.settings.helperImage, run, helperHint(run.settings.helperImage));
  const name = `${run.names.prefix}-volume-helper`;
  await removeContainer(run.api, name, 0, run.signal);
  const spec = {
    name,
    image: helper.ref,
    entrypoint: ["/bin/busybox"],
    command,
    labels: run.names.labels("volume-helper", "helper"),
    volumes: [{ Name: volume, Dest: "/volume" }],
    mounts: [{ Type: "bind", Source: hostDir, Destination: "/backup", Options: ["rbind", "rw"] }],
    restart_policy: "no",
    user: "0",
  };
  try {
    await run.api.request({ method: "POST", path: `${LIBPOD}/containers/create`, body: spec, signal: run.signal, what: "create volume helper" });
    await startContainer(run.api, name, run.signal);
    const waited = await run.api.docker.getContainer(name).wait({ condition: "not-running", abortSignal: run.signal } as never);
    const code = Number((waited as unknown as { StatusCode: number }).StatusCode);
    if (code !== 0) throw podmanErrors.containerFailed(name, `(${command[0]} for volume ${volume}) exited with code ${code}`, await tailLogs(run.api, name, 20));
  } catch (error) {
    throw apiFailure(`archive volume ${volume}`, error);
  } finally {
    await removeContainer(run.api, name, 0).catch(() => undefined);
  }
}
