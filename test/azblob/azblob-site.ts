import { randomUUID } from "node:crypto";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { makeFixtureSite, repoRoot } from "../e2e/cli-harness.js";
import { azblobHarness, type AzblobEnvironment } from "./harness.js";

export const azblobPlugin = path.join(repoRoot, "packages/state-azblob");

/** stepwise.yaml of the fixture site with its state in `container`/`blob` (or the file backend). */
export function siteYaml(state: { container: string; blob: string; leaseSeconds?: number } | "file"): string {
  const stateBlock =
    state === "file"
      ? ""
      : `state:
  backend: azblob
  options:
    account: stepwiseci
    container: ${state.container}
    blob: ${state.blob}
${state.leaseSeconds ? `    leaseSeconds: ${state.leaseSeconds}\n` : ""}`;
  return `name: fixture-site
plugins:
  - stepwise-plugin-fixture
  - "@stepwise/state-azblob"
config:
  app:
    greeting: hello
${stateBlock}`;
}

/** A fixture site whose state is in Azurite (a fresh blob each time), with @stepwise/state-azblob installed next to it. */
export function makeAzblobSite(options: { leaseSeconds?: number; file?: boolean } = {}): { dir: string; container: string; blob: string; env: AzblobEnvironment; writeYaml(state: Parameters<typeof siteYaml>[0]): void } {
  const container = "sites";
  const blob = `${randomUUID()}/state.json`;
  const dir = makeFixtureSite(siteYaml(options.file ? "file" : { container, blob, leaseSeconds: options.leaseSeconds }));
  mkdirSync(path.join(dir, "node_modules", "@stepwise"), { recursive: true });
  symlinkSync(azblobPlugin, path.join(dir, "node_modules", "@stepwise", "state-azblob"), "dir");
  const writeYaml = (state: Parameters<typeof siteYaml>[0]) => writeFileSync(path.join(dir, "stepwise.yaml"), siteYaml(state));
  return { dir, container, blob, env: azblobHarness(), writeYaml };
}

/** CLI environment reaching Azurite with the account key (a CI's connection string). */
export function keyEnv(env: AzblobEnvironment, extra: Record<string, string> = {}): Record<string, string> {
  return { STEPWISE_AZBLOB_CONNECTION_STRING: env.connectionString, ...extra };
}

export function containerClient(env: AzblobEnvironment, container: string) {
  return BlobServiceClient.fromConnectionString(env.connectionString).getContainerClient(container);
}

/** Every blob (snapshots included) under `prefix`: its bytes and metadata, as one text to grep. */
export async function dumpBlobs(env: AzblobEnvironment, container: string, prefix: string): Promise<{ names: string[]; text: string }> {
  const client = containerClient(env, container);
  const names: string[] = [];
  let text = "";
  for await (const item of client.listBlobsFlat({ prefix, includeSnapshots: true, includeMetadata: true })) {
    names.push(item.snapshot ? `${item.name}@${item.snapshot}` : item.name);
    const blob = item.snapshot ? client.getBlobClient(item.name).withSnapshot(item.snapshot) : client.getBlobClient(item.name);
    text += `${item.name}\n${JSON.stringify(item.metadata ?? {})}\n${(await blob.downloadToBuffer()).toString("utf8")}\n`;
  }
  return { names, text };
}
