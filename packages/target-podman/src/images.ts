import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { BuildSpec, TargetCallScope } from "@stepwise/core";
import { containerfileBases } from "./containerfile-bases.js";
import { podmanErrors } from "./errors.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, PodmanApiError } from "./podman-api.js";
import type { SiteNames } from "./naming.js";
import { canonicalJson } from "@stepwise/core";

/** What a container spec needs to know about its image. */
export interface ResolvedImage {
  /** The reference containers are created from. */
  ref: string;
  /** Image id (sha256); part of every spec hash, so a rebuilt image replaces its containers. */
  id: string;
  user: string;
  entrypoint: string[];
  cmd: string[];
  /** A built image: the images its Containerfile builds FROM, by reference, with the ids it was built on. */
  bases?: Record<string, string>;
}

interface ImageInspect {
  Id: string;
  Config?: { User?: string; Entrypoint?: string[] | null; Cmd?: string[] | null };
}

export async function inspectImage(api: PodmanApi, ref: string, signal?: AbortSignal): Promise<ResolvedImage | undefined> {
  const info = await api.requestOrMissing<ImageInspect>({ method: "GET", path: `${LIBPOD}/images/${encodeURIComponent(ref)}/json`, signal, what: `inspect image ${ref}` });
  if (!info) return undefined;
  return {
    ref,
    id: info.Id,
    user: info.Config?.User ?? "",
    entrypoint: info.Config?.Entrypoint ?? [],
    cmd: info.Config?.Cmd ?? [],
  };
}

/**
 * The image `ref`, pulled when it is not present locally. Progress goes to `scope.log.progress`.
 * Failure: `PODMAN_IMAGE_MISSING` with `hint` when neither present nor pullable.
 */
export async function ensureImage(api: PodmanApi, ref: string, scope: Pick<TargetCallScope, "signal" | "log">, hint?: string): Promise<ResolvedImage> {
  const present = await inspectImage(api, ref, scope.signal);
  if (present) return present;
  // localhost/ names exist only where they were built; a pull would ask https://localhost.
  if (ref.startsWith("localhost/")) throw podmanErrors.imageMissing(ref, "it is a local image and was not built on this machine", hint ?? `podman build -t ${ref} ...`);
  scope.log.progress(`pulling image ${ref}`);
  try {
    const stream = await api.docker.pull(ref, { abortSignal: scope.signal } as never);
    await new Promise<void>((done, fail) => {
      api.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? fail(error) : done()),
        (event: { status?: string; error?: string; stream?: string }) => {
          if (event.error) fail(new Error(event.error));
          else if (event.status || event.stream) scope.log.progress(`${ref}: ${(event.status ?? event.stream ?? "").trim()}`);
        },
      );
    });
  } catch (error) {
    scope.signal.throwIfAborted();
    const reason = error instanceof Error ? error.message : String(error);
    throw podmanErrors.imageMissing(ref, `not present locally and the pull failed: ${reason}`, hint ?? `podman pull ${ref}`);
  }
  const pulled = await inspectImage(api, ref, scope.signal);
  if (!pulled) throw podmanErrors.imageMissing(ref, "the pull reported success but the image is not there", hint ?? `podman pull ${ref}`);
  return pulled;
}

/**
 * Builds `build.context` (relative to `siteDir`) unless the image tagged with its identity
 * (`contextHash`, the Containerfile name and the build args) already exists. Without a
 * `contextHash` the image is always rebuilt (Podman's layer cache keeps that cheap).
 */
export async function ensureBuiltImage(
  api: PodmanApi,
  names: SiteNames,
  resource: string,
  build: BuildSpec,
  siteDir: string,
  scope: Pick<TargetCallScope, "signal" | "log">,
): Promise<ResolvedImage> {
  const context = resolve(siteDir, build.context);
  if (!existsSync(context)) throw podmanErrors.specInvalid(resource, `build context ${context} does not exist`);
  const file = build.file ?? (existsSync(join(context, "Containerfile")) ? "Containerfile" : "Dockerfile");
  if (!existsSync(join(context, file))) throw podmanErrors.specInvalid(resource, `no ${build.file ?? "Containerfile or Dockerfile"} in build context ${context}`);
  // The images it builds FROM are present (pulled if need be) and part of its identity, as are
  // the build args: the same context on a re-pulled or rebuilt base image is another image.
  const bases: Record<string, string> = {};
  for (const base of containerfileBases(readFileSync(join(context, file), "utf8"), build.args)) {
    // A localhost/ image cannot be pulled: ensureImage's own hint says to build it.
    const hint = base.startsWith("localhost/") ? undefined : `podman pull ${base}   (the Containerfile of ${resource} builds FROM it)`;
    bases[base] = (await ensureImage(api, base, scope, hint)).id;
  }
  const identity = build.contextHash
    ? createHash("sha256").update(canonicalJson({ context: build.contextHash, args: build.args ?? {}, bases })).digest("hex")
    : undefined;
  const tag = names.builtImage(resource, identity ?? "latest");
  if (identity) {
    const existing = await inspectImage(api, tag, scope.signal);
    if (existing) return { ...existing, bases };
  }
  scope.log.progress(`building image ${tag} from ${build.context}`);
  const src = listFiles(context);
  const lines: string[] = [];
  try {
    const stream = (await api.docker.buildImage({ context, src }, { t: tag, dockerfile: file, rm: true, abortSignal: scope.signal, ...(build.args ? { buildargs: build.args } : {}) } as never)) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((done, fail) => {
      api.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? fail(error) : done()),
        (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
          if (event.error) fail(new Error(event.errorDetail?.message ?? event.error));
          const line = event.stream?.trim();
          if (line) {
            lines.push(line);
            scope.log.progress(`${resource}: ${line}`);
          }
        },
      );
    });
  } catch (error) {
    scope.signal.throwIfAborted();
    const reason = error instanceof PodmanApiError || error instanceof Error ? error.message : String(error);
    throw podmanErrors.imageMissing(tag, `the build of ${build.context} failed: ${reason}\n${lines.slice(-15).join("\n")}`, `podman build -f ${file} ${context}`);
  }
  const built = await inspectImage(api, tag, scope.signal);
  if (!built) throw podmanErrors.imageMissing(tag, "the build finished but the image is not there", `podman build -t ${tag} ${context}`);
  return { ...built, bases };
}

/**
 * Which of the images a build was based on (`bases`: reference -> id it was built on) now
 * carry another id (re-pulled, rebuilt under the same tag) or are gone: a reason to rebuild.
 */
export async function changedBases(api: PodmanApi, bases: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<string[]> {
  const changed: string[] = [];
  for (const [ref, id] of Object.entries(bases)) {
    const now = await inspectImage(api, ref, signal);
    if (now?.id !== id) changed.push(ref);
  }
  return changed;
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        // .stepwise holds state and the encrypted secret store: never part of an image.
        if (entry.name === ".git" || entry.name === ".stepwise") continue;
        walk(path);
      } else out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}
