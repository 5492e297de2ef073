import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomically } from "../files/write-file-atomically.js";
import type { BackendContext, JsonObject, SecretBackend } from "../contracts.js";
import { ErrorCode } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";
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

  async readAll(): Promise<Map<string, string>> {
    let data: Uint8Array;
    try {
      data = await readFile(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }
    const identity = this.identity();
    if (!identity) {
      throw new StepwiseError(ErrorCode.SecretStoreUnreadable, `Secrets ${this.file} exist but no age identity was found to decrypt them.`, {
        location: this.file,
        hint: `set ${AGE_IDENTITY_ENV}=AGE-SECRET-KEY-1... or restore ${this.identityFile} (mode 0600)`,
      });
    }
    const age = await ageModule();
    const decrypter = new age.Decrypter();
    decrypter.addIdentity(identity);
    let text: string;
    try {
      // decrypt(bytes, "text") reads its output with `new Response(stream).text()`, which loads
      // Node's bundled undici (40-100 ms on every command); a stream input returns the stream instead.
      const input = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(data), c.close()) });
      const chunks: Uint8Array[] = [];
      for await (const chunk of await decrypter.decrypt(input)) chunks.push(chunk);
      text = Buffer.concat(chunks).toString("utf8");
    } catch (error) {
      throw new StepwiseError(ErrorCode.SecretStoreUnreadable, `Cannot decrypt ${this.file} with the configured age identity: ${(error as Error).message}.`, {
        location: this.file,
        hint: `use the identity the store was encrypted to (${AGE_IDENTITY_ENV} or ${this.identityFile})`,
      });
    }
    const payload = JSON.parse(text) as Payload;
    return new Map(Object.entries(payload.secrets));
  }

  async setMany(values: ReadonlyMap<string, string | undefined>): Promise<void> {
    const current = await this.readAll();
    for (const [name, value] of values) {
      if (value === undefined) current.delete(name);
      else current.set(name, value);
    }
    const age = await ageModule();
    let identity = this.identity();
    if (!identity) {
      identity = await age.generateX25519Identity();
      mkdirSync(path.dirname(this.identityFile), { recursive: true, mode: 0o700 });
      await writeFileAtomically(this.identityFile, `# stepwise age identity: keep it secret, back it up\n${identity}\n`, { mode: 0o600 });
      chmodSync(this.identityFile, 0o600);
    }
    const encrypter = new age.Encrypter();
    encrypter.addRecipient(await age.identityToRecipient(identity));
    for (const recipient of this.extraRecipients) encrypter.addRecipient(recipient);
    const payload: Payload = { version: 1, secrets: Object.fromEntries([...current].sort(([a], [b]) => a.localeCompare(b))) };
    const encrypted = await encrypter.encrypt(JSON.stringify(payload));
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomically(this.file, Buffer.from(encrypted), { fsync: true, mode: 0o600 });
    chmodSync(this.file, 0o600);
  }

  private identity(): string | undefined {
    const fromEnv = this.env[AGE_IDENTITY_ENV]?.trim();
    if (fromEnv) return fromEnv;
    if (!existsSync(this.identityFile)) return undefined;
    return readFileSync(this.identityFile, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("AGE-SECRET-KEY-"));
  }
}

export function createAgeSecretBackend(options: JsonObject, ctx: BackendContext): SecretBackend {
  return new AgeSecretBackend(ctx.siteDir, {
    file: typeof options.file === "string" ? options.file : undefined,
    identityFile: typeof options.identityFile === "string" ? options.identityFile : undefined,
    recipients: Array.isArray(options.recipients) ? options.recipients.filter((r): r is string => typeof r === "string") : undefined,
  });
}
