import { nodeCrypto } from "../fingerprint/node-crypto.js";
import type { SecretBackend } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { MIN_SECRET_LENGTH, type Redactor } from "../log/redactor.js";

/** Reserved entry of the secret store: the key of the HMACs that state keeps. */
export const HMAC_KEY_NAME = "stepwise.hmac-key";
export const UNSET = "unset";

/**
 * The site's secrets for one command: read once from the backend, every value registered
 * with the redactor. State only ever sees {@link SiteSecrets.fingerprint}: an HMAC keyed
 * by a random per-site key kept in the secret store itself, so the state file reveals
 * nothing, not even which secrets share a value across sites.
 */
export class SiteSecrets {
  private constructor(
    private readonly backend: SecretBackend,
    private readonly values: Map<string, string>,
    private readonly redactor: Redactor,
  ) {
    for (const value of values.values()) redactor.add(value);
  }

  static async open(backend: SecretBackend, redactor: Redactor): Promise<SiteSecrets> {
    return new SiteSecrets(backend, await backend.readAll(), redactor);
  }

  get description(): string {
    return this.backend.description;
  }

  get(name: string): string | undefined {
    return name === HMAC_KEY_NAME ? undefined : this.values.get(name);
  }

  has(name: string): boolean {
    return name !== HMAC_KEY_NAME && this.values.has(name);
  }

  /** Names of stored secrets (the reserved HMAC key is not listed). */
  names(): string[] {
    return [...this.values.keys()].filter((n) => n !== HMAC_KEY_NAME).sort();
  }

  /** `hmac-sha256:<hex>` of the value, or `unset`. */
  fingerprint(name: string): string {
    const value = this.get(name);
    const key = this.values.get(HMAC_KEY_NAME);
    if (value === undefined || key === undefined) return UNSET;
    return `hmac-sha256:${nodeCrypto().createHmac("sha256", key).update(value).digest("hex")}`;
  }

  /**
   * A keyed digest of any text (e.g. a rendered file that holds secrets): HMAC with the
   * site key when there is one, plain sha256 otherwise (then no secret exists to protect).
   */
  digest(text: string): string {
    const key = this.values.get(HMAC_KEY_NAME);
    if (key === undefined) return `sha256:${nodeCrypto().createHash("sha256").update(text).digest("hex")}`;
    return `hmac-sha256:${nodeCrypto().createHmac("sha256", key).update(text).digest("hex")}`;
  }

  /**
   * Reads the store again, into this object (whatever holds it sees the new values). A writer
   * calls it once it holds the site lock, so it decides on the store as it is, not as it was.
   */
  async reload(): Promise<void> {
    this.replaceValues(await this.backend.readAll());
  }

  /**
   * Stored secrets too short to redact safely ({@link MIN_SECRET_LENGTH}); stepwise refuses to
   * store one, so only a store written by other means holds any.
   */
  tooShort(): string[] {
    return this.names().filter((name) => this.values.get(name)!.length < MIN_SECRET_LENGTH);
  }

  /**
   * Stores values (`undefined` deletes), atomically, adding the HMAC key on first use. Call it
   * under the site lock: the store is read again first, so what other writers stored since this
   * command read it (the HMAC key included) is kept, not overwritten. A value shorter than
   * {@link MIN_SECRET_LENGTH} is refused (exit 2): the redactor could not hide it.
   */
  async set(values: ReadonlyMap<string, string | undefined>): Promise<void> {
    if (values.has(HMAC_KEY_NAME)) throw new Error(`${HMAC_KEY_NAME} is reserved`);
    for (const [name, value] of values) {
      if (value !== undefined && value.length < MIN_SECRET_LENGTH) throw errors.secretTooShort(name, MIN_SECRET_LENGTH);
    }
    const stored = await this.backend.readAll();
    const writes = new Map(values);
    if (!stored.has(HMAC_KEY_NAME)) writes.set(HMAC_KEY_NAME, nodeCrypto().randomBytes(32).toString("hex"));
    await this.backend.setMany(writes);
    for (const [name, value] of writes) {
      if (value === undefined) stored.delete(name);
      else stored.set(name, value);
    }
    this.replaceValues(stored);
  }

  private replaceValues(values: ReadonlyMap<string, string>): void {
    this.values.clear();
    for (const [name, value] of values) {
      this.values.set(name, value);
      this.redactor.add(value);
    }
  }
}
