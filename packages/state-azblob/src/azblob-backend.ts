import os from "node:os";
import { randomUUID } from "node:crypto";
import type { BlobLeaseClient, BlobServiceClient, BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import { ExitCode, StepwiseError, type BackendContext, type FoundLock, type JsonObject, type LockInfo, type LockWaitOptions, type StateBackend, type StateDocument, type StateLock, type StateVersion } from "@stepwise/core";
import { LockWaiter, STATE_HISTORY_KEEP, describeHolder, errors, parseState, refuseMigrated } from "@stepwise/core/engine";
import { AzblobErrorCode, azblobErrors, isStatus, redactAzure } from "./azblob-errors.js";

/** Environment variables a CI pipeline sets instead of stepwise.yaml (the secret ones only here). */
export const AZBLOB_ENV = {
  connectionString: "STEPWISE_AZBLOB_CONNECTION_STRING",
  sas: "STEPWISE_AZBLOB_SAS",
  account: "STEPWISE_AZBLOB_ACCOUNT",
  url: "STEPWISE_AZBLOB_URL",
  container: "STEPWISE_AZBLOB_CONTAINER",
  blob: "STEPWISE_AZBLOB_BLOB",
} as const;

/** Lease length: Azure allows 15 to 60 seconds. A killed run's lease runs out after at most this. */
export const DEFAULT_LEASE_SECONDS = 60;

export interface AzblobOptions {
  /** Storage account name: `https://ACCOUNT.blob.core.windows.net`. */
  account?: string;
  /** Blob service URL instead (Azurite, sovereign clouds): `http://127.0.0.1:10000/devstoreaccount1`. */
  url?: string;
  container: string;
  /** The state document's blob name; its lock, journal and objects sit next to it. Default `SITE/state.json`. */
  blob: string;
  /** Lease length in seconds (15..60). */
  leaseSeconds: number;
  /** From the environment only: a connection string (with AccountKey or SharedAccessSignature). */
  connectionString?: string;
  /** From the environment only: a SAS token appended to `url`/`account`'s URL. */
  sas?: string;
}

const SECRET_OPTIONS = ["connectionString", "sas", "accountKey", "key"];

/** Reads `state.options` and the environment (which wins) into {@link AzblobOptions}; exit 2 naming the key on bad input. */
export function azblobOptions(options: JsonObject, ctx: Pick<BackendContext, "siteName">, env: Readonly<Record<string, string | undefined>> = process.env): AzblobOptions {
  for (const key of SECRET_OPTIONS) {
    if (options[key] !== undefined) throw azblobErrors.secretInSiteFile(key, key === "sas" ? AZBLOB_ENV.sas : AZBLOB_ENV.connectionString);
  }
  const text = (key: string, envName: string): string | undefined => {
    const value = env[envName] ?? options[key];
    if (value === undefined || value === "") return undefined;
    if (typeof value !== "string") throw azblobErrors.badOption(key, "a string");
    return value;
  };
  const leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  if (typeof leaseSeconds !== "number" || !Number.isInteger(leaseSeconds) || leaseSeconds < 15 || leaseSeconds > 60) throw azblobErrors.badOption("leaseSeconds", "a whole number of seconds from 15 to 60");
  const connectionString = env[AZBLOB_ENV.connectionString] || env.AZURE_STORAGE_CONNECTION_STRING || undefined;
  const account = text("account", AZBLOB_ENV.account);
  const url = text("url", AZBLOB_ENV.url);
  const container = text("container", AZBLOB_ENV.container);
  if (!container) throw azblobErrors.badOption("container", `the name of a blob container (or ${AZBLOB_ENV.container})`);
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(container)) throw azblobErrors.badOption("container", "3-63 lowercase letters, digits and single hyphens");
  if (!account && !url && !connectionString) throw azblobErrors.noAccount();
  if (account && !/^[a-z0-9]{3,24}$/.test(account)) throw azblobErrors.badOption("account", "a storage account name: 3-24 lowercase letters and digits");
  if (url && !/^https?:\/\/[^?#]+$/.test(url)) throw azblobErrors.badOption("url", "an http(s) URL of a blob service without a query (put a SAS in " + AZBLOB_ENV.sas + ")");
  const blob = text("blob", AZBLOB_ENV.blob) ?? `${ctx.siteName}/state.json`;
  return { account, url, container, blob, leaseSeconds, connectionString, sas: env[AZBLOB_ENV.sas] || undefined };
}

/** The secret strings in `options` (redacted from every message). */
function secretsOf(options: AzblobOptions): string[] {
  const found: string[] = [];
  if (options.connectionString) {
    found.push(options.connectionString);
    for (const part of options.connectionString.split(";")) {
      const [key, ...rest] = part.split("=");
      if (/^(AccountKey|SharedAccessSignature)$/i.test(key?.trim() ?? "")) found.push(rest.join("="));
    }
  }
  if (options.sas) found.push(options.sas, options.sas.replace(/^\?/, ""));
  return found.filter((s) => s.length >= 4);
}

/** Retries of a failed request: a few, quickly (a command waits on each; a lost race is never retried blindly: CAS). */
const RETRY = { retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000 } };

async function serviceClient(options: AzblobOptions): Promise<BlobServiceClient> {
  const { BlobServiceClient } = await import("@azure/storage-blob");
  if (options.connectionString) return BlobServiceClient.fromConnectionString(options.connectionString, RETRY);
  const base = options.url ?? `https://${options.account}.blob.core.windows.net`;
  if (options.sas) return new BlobServiceClient(`${base}?${options.sas.replace(/^\?/, "")}`, undefined, RETRY);
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new BlobServiceClient(base, new DefaultAzureCredential(), RETRY);
}

const enc = (value: string) => encodeURIComponent(value);
const dec = (value: string | undefined) => {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
};

/** Lock info as blob metadata (ASCII header values: each value is URI-encoded). */
function lockMetadata(info: LockInfo): Record<string, string> {
  const meta: Record<string, string> = {
    lockid: enc(info.id),
    operation: enc(info.operation),
    pid: String(info.pid),
    host: enc(info.host),
    user: enc(info.user),
    startedat: enc(info.startedAt),
    expiresat: enc(info.expiresAt),
  };
  if (info.pidStartTime) meta.pidstarttime = enc(info.pidStartTime);
  if (info.brief) meta.brief = "true";
  return meta;
}

function lockFromMetadata(meta: Record<string, string> | undefined): LockInfo | undefined {
  if (!meta) return undefined;
  const id = dec(meta.lockid);
  const operation = dec(meta.operation);
  const host = dec(meta.host);
  const user = dec(meta.user);
  const startedAt = dec(meta.startedat);
  const expiresAt = dec(meta.expiresat);
  const pid = Number(meta.pid);
  if (!id || !operation || !host || !user || !startedAt || !expiresAt || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const info: LockInfo = { id, operation, pid, host, user, startedAt, expiresAt };
  const pidStartTime = dec(meta.pidstarttime);
  if (pidStartTime) info.pidStartTime = pidStartTime;
  if (meta.brief === "true") info.brief = true;
  return info;
}

/** Who writes (blob metadata of each document written): never a secret. */
function writerMetadata(state: StateDocument): Record<string, string> {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? "unknown";
  }
  return { writer: enc(`${user}@${os.hostname()} pid ${process.pid}`), writtenat: enc(new Date().toISOString()), serial: String(state.serial) };
}

function describeWriter(meta: Record<string, string> | undefined): string | undefined {
  const writer = dec(meta?.writer);
  if (!writer) return undefined;
  const at = dec(meta?.writtenat);
  return `${writer}${at ? ` at ${at}` : ""}${meta?.serial ? ` (serial ${meta.serial})` : ""}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long a lease may show a previous holder's metadata before the new holder has written its own. */
const METADATA_GRACE_MS = 3000;

/**
 * State in Azure Blob Storage (see docs/state-backends.md):
 * - `BLOB` holds the document; writes are compare-and-swap on its ETag (`If-Match`, or
 *   `If-None-Match: *` for the first), with the writer in its metadata. Before each write the
 *   current document is kept as a snapshot (conditional on the same ETag); the newest
 *   {@link STATE_HISTORY_KEEP} are kept.
 * - `BLOB.lock` is the lock: a lease of `leaseSeconds` renewed every third of it while the run
 *   lives, the holder in its metadata. A killed run's lease runs out by itself.
 * - `BLOB.journal` is the run journal (an append blob); `BLOB.objects/HASH` the objects.
 */
export class AzblobStateBackend implements StateBackend {
  readonly description: string;
  /** `azblob://ACCOUNT/CONTAINER/BLOB`: what `state migrate --to` takes. */
  readonly address: string;
  private readonly container: ContainerClient;
  private readonly document: BlockBlobClient;
  private readonly lockBlob: BlockBlobClient;
  private containerReady = false;
  private journalReady = false;

  constructor(
    service: BlobServiceClient,
    private readonly options: AzblobOptions,
    private readonly ctx: Pick<BackendContext, "warn">,
    private readonly secrets: readonly string[],
  ) {
    this.container = service.getContainerClient(options.container);
    this.document = this.container.getBlockBlobClient(options.blob);
    this.lockBlob = this.container.getBlockBlobClient(`${options.blob}.lock`);
    const base = new URL(service.url);
    base.search = "";
    this.description = `azblob ${base.toString().replace(/\/$/, "")}/${options.container}/${options.blob}`;
    this.address = `azblob://${service.accountName}/${options.container}/${options.blob}`;
  }

  /** Runs one storage request; a failure becomes a StepwiseError with no secret in it. */
  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw azblobErrors.request(this.description, what, error, this.secrets);
    }
  }

  private async ensureContainer(): Promise<void> {
    if (this.containerReady) return;
    const created = await this.call(`create the container ${this.options.container} if missing`, () => this.container.createIfNotExists());
    if (created.succeeded) this.ctx.warn(`Created the blob container ${this.options.container} for the state (${this.description}).`);
    this.containerReady = true;
  }

  async read(options: { allowMigrated?: boolean } = {}): Promise<{ state: StateDocument | undefined; etag: string | undefined }> {
    let body: Buffer;
    let etag: string | undefined;
    try {
      const response = await this.document.download();
      body = await streamToBuffer(response.readableStreamBody);
      etag = response.etag;
    } catch (error) {
      if (isStatus(error, 404)) return { state: undefined, etag: undefined };
      throw azblobErrors.request(this.description, "read the state", error, this.secrets);
    }
    const state = parseState(body.toString("utf8"), this.description);
    refuseMigrated(state, this.description, options.allowMigrated);
    return { state, etag };
  }

  /** Who last wrote the document, from its metadata (for a conflict's message). */
  private async lastWriter(): Promise<string | undefined> {
    try {
      return describeWriter((await this.document.getProperties()).metadata);
    } catch {
      return undefined;
    }
  }

  async write(state: StateDocument, etag: string | undefined): Promise<{ etag: string }> {
    await this.ensureContainer();
    const text = `${JSON.stringify(state, null, 2)}\n`;
    const conflict = async () => errors.stateConflict(this.description, await this.lastWriter());
    if (etag !== undefined) {
      // Keep the document this write replaces; the snapshot is taken only if it is still the one read.
      try {
        await this.document.createSnapshot({ conditions: { ifMatch: etag } });
      } catch (error) {
        if (isStatus(error, 412) || isStatus(error, 404)) throw await conflict();
        throw azblobErrors.request(this.description, "keep the previous state as a snapshot", error, this.secrets);
      }
    }
    let written: string | undefined;
    try {
      const response = await this.document.upload(text, Buffer.byteLength(text), {
        conditions: etag === undefined ? { ifNoneMatch: "*" } : { ifMatch: etag },
        metadata: writerMetadata(state),
        blobHTTPHeaders: { blobContentType: "application/json" },
      });
      written = response.etag;
    } catch (error) {
      if (isStatus(error, 412) || isStatus(error, 409)) throw await conflict();
      throw azblobErrors.request(this.description, "write the state", error, this.secrets);
    }
    await this.clearJournal();
    return { etag: written ?? "" };
  }

  async history(): Promise<StateVersion[]> {
    const versions: StateVersion[] = [];
    await this.call("list the kept states", async () => {
      for await (const item of this.container.listBlobsFlat({ prefix: this.options.blob, includeSnapshots: true, includeMetadata: true })) {
        if (item.name !== this.options.blob || !item.snapshot) continue;
        versions.push({ id: item.snapshot, serial: Number(item.metadata?.serial ?? 0), keptAt: item.snapshot, writer: dec(item.metadata?.writer) });
      }
    });
    return versions.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  async readVersion(id: string): Promise<StateDocument> {
    let body: Buffer;
    try {
      body = await this.document.withSnapshot(id).downloadToBuffer();
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 400)) throw errors.stateVersionUnknown(this.description, id, (await this.history()).length);
      throw azblobErrors.request(this.description, "read a kept state", error, this.secrets);
    }
    return parseState(body.toString("utf8"), `${this.description} (snapshot ${id})`);
  }

  /** Deletes the oldest kept snapshots beyond {@link STATE_HISTORY_KEEP} (the lock holder does, once per run). */
  private async pruneHistory(): Promise<void> {
    const versions = await this.history();
    for (const old of versions.slice(STATE_HISTORY_KEEP)) {
      await this.call("delete an old kept state", () => this.document.withSnapshot(old.id).deleteIfExists());
    }
  }

  async lock(holder: Omit<LockInfo, "expiresAt" | "id">, _ttlMs: number, options: LockWaitOptions = {}): Promise<StateLock> {
    await this.ensureContainer();
    const leaseMs = this.options.leaseSeconds * 1000;
    const info: LockInfo = { id: randomUUID(), ...holder, expiresAt: new Date(Date.now() + leaseMs).toISOString() };
    // The lock blob exists once; creating it again is refused (409/412) and that is fine.
    await this.lockBlob.upload("", 0, { conditions: { ifNoneMatch: "*" } }).catch((error: unknown) => {
      if (!isStatus(error, 409) && !isStatus(error, 412)) throw azblobErrors.request(this.description, "create the lock blob", error, this.secrets);
    });
    const waiter = new LockWaiter(options);
    const deadline = Math.max(waiter.deadline, Date.now() + METADATA_GRACE_MS + 1000);
    let unwritten: number | undefined;
    for (;;) {
      const lease = this.lockBlob.getBlobLeaseClient(info.id);
      try {
        await lease.acquireLease(this.options.leaseSeconds);
      } catch (error) {
        if (!isStatus(error, 409)) throw azblobErrors.request(this.description, "take the lock (lease)", error, this.secrets);
        const found = await this.examineLock();
        if (found && "unreadable" in found) {
          // The new holder has its lease but not yet its metadata: look again shortly.
          unwritten ??= Date.now();
          if (Date.now() - unwritten > METADATA_GRACE_MS || Date.now() > deadline) throw errors.stateLockBusy(`${this.description}.lock`, found.unreadable);
          await sleep(200);
          continue;
        }
        unwritten = undefined;
        if (!found) continue; // released in between
        const pause = waiter.waitFor(found);
        if (pause === undefined) throw errors.stateLocked(`${this.description}.lock`, describeHolder(found), { holder: found as unknown as JsonObject });
        await sleep(pause);
        continue;
      }
      try {
        await this.lockBlob.setMetadata(lockMetadata(info), { conditions: { leaseId: info.id } });
      } catch (error) {
        await lease.releaseLease().catch(() => {});
        throw azblobErrors.request(this.description, "record the lock holder", error, this.secrets);
      }
      const handle = this.leaseHandle(lease, info, leaseMs);
      try {
        await this.pruneHistory();
      } catch (error) {
        await handle.release();
        throw error;
      }
      return handle;
    }
  }

  /** The lease's holder: undefined when no lease is held, unreadable when its metadata is not (yet) the holder's. */
  private async examineLock(): Promise<FoundLock | undefined> {
    let properties;
    try {
      properties = await this.lockBlob.getProperties();
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw azblobErrors.request(this.description, "read the lock", error, this.secrets);
    }
    if (properties.leaseState !== "leased") return undefined;
    const info = lockFromMetadata(properties.metadata);
    // Metadata that expired before now is a previous holder's: the lease's taker has not written its own yet.
    if (!info || Date.parse(info.expiresAt) < Date.now()) return { unreadable: `a lease on ${this.description}.lock whose holder is not recorded (yet)` };
    return info;
  }

  private leaseHandle(lease: BlobLeaseClient, info: LockInfo, leaseMs: number): StateLock {
    const current = { ...info };
    let released = false;
    let lost: unknown;
    const renew = async () => {
      if (released) return;
      if (lost) throw lost;
      try {
        await lease.renewLease();
        current.expiresAt = new Date(Date.now() + leaseMs).toISOString();
        await this.lockBlob.setMetadata(lockMetadata(current), { conditions: { leaseId: current.id } });
      } catch (error) {
        lost = isStatus(error, 409) || isStatus(error, 412) ? errors.stateLockBroken(`${this.description}.lock`) : azblobErrors.request(this.description, "renew the lock", error, this.secrets);
        throw lost;
      }
    };
    // The lease is short (at most 60 s): renew it every third of it, whatever the engine does.
    const timer = setInterval(() => renew().catch(() => {}), Math.floor(leaseMs / 3));
    timer.unref();
    return {
      get info() {
        return current;
      },
      renew,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await lease.releaseLease().catch(() => {});
      },
    };
  }

  inspectLock(): Promise<FoundLock | undefined> {
    return this.examineLock();
  }

  async forceUnlock(): Promise<FoundLock | undefined> {
    const found = await this.examineLock();
    if (!found) return undefined;
    await this.call("break the lock's lease", () => this.lockBlob.getBlobLeaseClient().breakLease(0)).catch((error: unknown) => {
      // Released or expired in between: nothing left to break.
      if (!(error instanceof StepwiseError && /\b409\b/.test(error.message))) throw error;
    });
    return found;
  }

  private object(hash: string): BlockBlobClient {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw errors.stateObjectName(hash);
    return this.container.getBlockBlobClient(`${this.options.blob}.objects/${hash}`);
  }

  async putObject(hash: string, bytes: Uint8Array): Promise<void> {
    await this.ensureContainer();
    const blob = this.object(hash);
    await blob.upload(bytes, bytes.byteLength, { conditions: { ifNoneMatch: "*" } }).catch((error: unknown) => {
      // Already stored: objects are immutable, named by their hash.
      if (!isStatus(error, 409) && !isStatus(error, 412)) throw azblobErrors.request(this.description, "store an object", error, this.secrets);
    });
  }

  async getObject(hash: string): Promise<Uint8Array | undefined> {
    try {
      return await this.object(hash).downloadToBuffer();
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw azblobErrors.request(this.description, "read an object", error, this.secrets);
    }
  }

  async listObjects(): Promise<string[]> {
    const prefix = `${this.options.blob}.objects/`;
    const hashes: string[] = [];
    await this.call("list objects", async () => {
      try {
        for await (const item of this.container.listBlobsFlat({ prefix })) hashes.push(item.name.slice(prefix.length));
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    });
    return hashes;
  }

  async deleteObject(hash: string): Promise<void> {
    const blob = this.container.getBlockBlobClient(`${this.options.blob}.objects/${hash}`);
    await this.call("delete an object", () => blob.deleteIfExists());
  }

  private journal() {
    return this.container.getAppendBlobClient(`${this.options.blob}.journal`);
  }

  async appendJournal(line: string): Promise<void> {
    await this.ensureContainer();
    const journal = this.journal();
    if (!this.journalReady) {
      await this.call("create the journal", () => journal.createIfNotExists());
      this.journalReady = true;
    }
    const block = `${line}\n`;
    await this.call("append to the journal", () => journal.appendBlock(block, Buffer.byteLength(block)));
  }

  async readJournal(): Promise<string | undefined> {
    try {
      return (await this.journal().downloadToBuffer()).toString("utf8");
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw azblobErrors.request(this.description, "read the journal", error, this.secrets);
    }
  }

  async clearJournal(): Promise<void> {
    this.journalReady = false;
    await this.call("remove the journal", () => this.journal().deleteIfExists());
  }
}

async function streamToBuffer(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The `azblob` backend factory: options from stepwise.yaml and the environment; the Azure SDK loads here, not before. */
export async function createAzblobBackend(options: JsonObject, ctx: BackendContext, env: Readonly<Record<string, string | undefined>> = process.env): Promise<AzblobStateBackend> {
  const parsed = azblobOptions(options, ctx, env);
  const secrets = secretsOf(parsed);
  let service: BlobServiceClient;
  try {
    service = await serviceClient(parsed);
  } catch (error) {
    throw new StepwiseError(AzblobErrorCode.OptionInvalid, `azblob: cannot use the storage settings: ${redactAzure(String((error as Error).message ?? error), secrets)}`, {
      exitCode: ExitCode.BadInput,
      hint: `check ${AZBLOB_ENV.connectionString} (AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)`,
    });
  }
  return new AzblobStateBackend(service, parsed, ctx, secrets);
}
