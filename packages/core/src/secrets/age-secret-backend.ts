import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { witnessFile } from "../cache/plan-memo.js";
import path from "node:path";
import { writeFileAtomically } from "../files/write-file-atomically.js";
import type { BackendContext, JsonObject, SecretBackend } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError, errorMessage } from "../errors/stepwise-error.js";
import { ageModule } from "./age-module.js";

export const AGE_IDENTITY_ENV = "STEPWISE_AGE_IDENTITY";

export interface AgeSecretBackendOptions {
  /** Encrypted store, relative to the site. Default `.stepwise/secrets.age`. */
  file?: string;
  /** Identity file (0600), relative to the site. Default `.stepwise/age-identity.txt`. */
  identityFile?: string;
  /** Extra `age1...` recipients (teammates, CI) the store is also encrypted to. */
  recipients?: string[];
  env?: Readonly<Record<string, string | undefined>>;
}

interface Payload {
  version: 1;
  secrets: Record<string, string>;
}

/**
 * Secrets in one age-encrypted file. The X25519 identity comes from `STEPWISE_AGE_IDENTITY`
 * (the `AGE-SECRET-KEY-1...` string) or a 0600 identity file, made on first write. Every
 * write re-encrypts the whole store atomically (temp + fsync + rename, mode 0600).
 */
export class AgeSecretBackend implements SecretBackend {
  readonly description: string;
  private readonly file: string;
  private readonly identityFile: string;
  private readonly extraRecipients: string[];
  private readonly env: Readonly<Record<string, string | undefined>>;

  constructor(siteDir: string, options: AgeSecretBackendOptions = {}) {
    this.file = path.resolve(siteDir, options.file ?? ".stepwise/secrets.age");
    this.identityFile = path.resolve(siteDir, options.identityFile ?? ".stepwise/age-identity.txt");
    this.extraRecipients = options.recipients ?? [];
    this.env = options.env ?? process.env;
    this.description = `age ${path.relative(siteDir, this.file)}`;
  }

  /** The files this backend writes (atomically, under the site lock). */
  filesWritten(): string[] {
    return [this.file, this.identityFile];
  }

  /**
   * Every stored secret. A store that cannot be read (not decryptable, or decrypted but not a
   * valid payload) is refused with an error naming the file and how to restore it; nothing
   * ever writes over it, since every write reads the store first.
   */
  async readAll(): Promise<Map<string, string>> {
    let data: Uint8Array;
    witnessFile(this.file);
    try {
      data = await readFile(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw this.storeError(`cannot be read (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`, `make ${this.file} a readable file again, or restore it from a backup: stepwise backup restore FILE`);
    }
    const found = this.identity();
    if (!found) {
      throw errors.secretStoreNoIdentity(this.file, AGE_IDENTITY_ENV, this.identityFile);
    }
    const age = await ageModule();
    const decrypter = new age.Decrypter();
    await this.checkIdentity(found);
    decrypter.addIdentity(found.identity);
    let text: string;
    try {
      // decrypt(bytes, "text") reads its output with `new Response(stream).text()`, which loads
      // Node's bundled undici (40-100 ms on every command); a stream input returns the stream instead.
      const input = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(data), c.close()) });
      const chunks: Uint8Array[] = [];
      for await (const chunk of await decrypter.decrypt(input)) chunks.push(chunk);
      text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
    } catch (error) {
      throw this.storeError(
        `cannot be decrypted with the age identity from ${found.source} (${scrubIdentity(errorMessage(error))})`,
        `use the identity the store was encrypted to (${AGE_IDENTITY_ENV} or ${this.identityFile}), or restore ${this.file} from a backup: stepwise backup restore FILE`,
      );
    }
    const problem = payloadProblem(text);
    if (problem) {
      throw this.storeError(
        `decrypts, but is not a stepwise secrets store (${problem})`,
        `restore ${this.file} from a backup (stepwise backup restore FILE) or from a copy encrypted to your identity; stepwise will not write over it`,
      );
    }
    return new Map(Object.entries((JSON.parse(text) as Payload).secrets));
  }

  private storeError(problem: string, hint: string): StepwiseError {
    return errors.secretStoreUnreadable(this.file, problem, hint);
  }

  /** Refuses an identity that is not one (mistyped, damaged), naming where it came from and never quoting it. */
  private async checkIdentity(found: { identity: string; source: string }): Promise<string> {
    const age = await ageModule();
    try {
      return await age.identityToRecipient(found.identity);
    } catch {
      throw errors.secretIdentityInvalid(found.source, AGE_IDENTITY_ENV, this.identityFile);
    }
  }

  async setMany(values: ReadonlyMap<string, string | undefined>): Promise<void> {
    const current = await this.readAll();
    for (const [name, value] of values) {
      if (value === undefined) current.delete(name);
      else current.set(name, value);
    }
    const age = await ageModule();
    let found = this.identity();
    if (!found) {
      const identity = await age.generateX25519Identity();
      mkdirSync(path.dirname(this.identityFile), { recursive: true, mode: 0o700 });
      await writeFileAtomically(this.identityFile, `# stepwise age identity: keep it secret, back it up\n${identity}\n`, { mode: 0o600 });
      chmodSync(this.identityFile, 0o600);
      found = { identity, source: this.identityFile };
    }
    const encrypter = new age.Encrypter();
    encrypter.addRecipient(await this.checkIdentity(found));
    for (const recipient of this.extraRecipients) {
      try {
        encrypter.addRecipient(recipient);
      } catch {
        throw errors.secretRecipientInvalid(recipient);
      }
    }
    const payload: Payload = { version: 1, secrets: Object.fromEntries([...current].sort(([a], [b]) => a.localeCompare(b))) };
    const encrypted = await encrypter.encrypt(JSON.stringify(payload));
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFileAtomically(this.file, Buffer.from(encrypted), { fsync: true, mode: 0o600 });
      chmodSync(this.file, 0o600);
    } catch (error) {
      // write-file-atomic renames a complete temp file or leaves the old store: nothing half-written.
      throw this.storeError(`cannot be written (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`, `check that ${path.dirname(this.file)} is a writable directory`);
    }
  }

  /** The identity and where it came from (`STEPWISE_AGE_IDENTITY` or the identity file). */
  private identity(): { identity: string; source: string } | undefined {
    const fromEnv = this.env[AGE_IDENTITY_ENV]?.trim();
    if (fromEnv) return { identity: fromEnv, source: AGE_IDENTITY_ENV };
    let text: string;
    witnessFile(this.identityFile);
    try {
      text = readFileSync(this.identityFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw errors.secretIdentityUnreadable(this.identityFile, (error as NodeJS.ErrnoException).code ?? "unreadable", AGE_IDENTITY_ENV);
    }
    const line = text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("AGE-SECRET-KEY-"));
    if (line) return { identity: line, source: this.identityFile };
    if (text.trim() === "") return undefined;
    // Something is there, but not an identity line: say so rather than making a new identity.
    return { identity: text.trim(), source: this.identityFile };
  }
}

/** What is wrong with a decrypted payload, or undefined for `{ version: 1, secrets: { name: "value" } }`. */
function payloadProblem(text: string): string | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) return "not a JSON object";
  const { version, secrets } = payload as { version?: unknown; secrets?: unknown };
  if (version !== 1) return `format version ${JSON.stringify(version) ?? "missing"}, this stepwise reads version 1`;
  if (!secrets || typeof secrets !== "object" || Array.isArray(secrets)) return '"secrets" is not an object';
  for (const [name, value] of Object.entries(secrets)) {
    if (typeof value !== "string") return `secret ${JSON.stringify(name)} is not a string`;
  }
  return undefined;
}

/** An age error message without any identity text it may quote. */
function scrubIdentity(message: string): string {
  return message.replace(/AGE-SECRET-KEY-\S*/gi, "AGE-SECRET-KEY-...");
}

export function createAgeSecretBackend(options: JsonObject, ctx: BackendContext): SecretBackend {
  return new AgeSecretBackend(ctx.siteDir, {
    file: typeof options.file === "string" ? options.file : undefined,
    identityFile: typeof options.identityFile === "string" ? options.identityFile : undefined,
    recipients: Array.isArray(options.recipients) ? options.recipients.filter((r): r is string => typeof r === "string") : undefined,
  });
}
