/**
 * Shorter values are not redacted: they would mangle ordinary text and protect nothing. A
 * user-provided secret shorter than this is refused when it is set (see `SiteSecrets.set`),
 * so every value a site holds is redacted.
 */
export const MIN_SECRET_LENGTH = 4;
export const REDACTED = "[redacted]";

/** Every redactor of this process, for {@link redactKnownSecrets}. */
const redactors = new Set<Redactor>();

/**
 * Replaces every known secret value (and its JSON-escaped form) in text. It never throws:
 * it runs inside error handlers, where a second error would hide the first.
 */
export class Redactor {
  private pattern: RegExp | undefined;
  private readonly values = new Set<string>();

  /** `register: false` for a short-lived redactor that {@link redactKnownSecrets} need not know. */
  constructor(options: { register?: boolean } = {}) {
    if (options.register !== false) redactors.add(this);
  }

  /**
   * Registers a value in every form it may appear in: as it is, JSON-escaped (in JSON output
   * and state), base64-encoded (a basic-auth header, a Kubernetes-style secret) and trimmed (a
   * value read with its newline). Anything but a string long enough to redact safely is ignored.
   */
  add(value: unknown): void {
    if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH || this.values.has(value)) return;
    const trimmed = value.trim();
    for (const form of [value, JSON.stringify(value).slice(1, -1), Buffer.from(value).toString("base64"), trimmed]) {
      if (form.length >= MIN_SECRET_LENGTH) this.values.add(form);
    }
    this.pattern = undefined;
  }

  /** `text` with every known value replaced; a value that is not a string is stringified first. */
  redact(text: unknown): string {
    const plain = safeString(text);
    if (this.values.size === 0) return plain;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
    return plain.replace(this.pattern, REDACTED);
  }
}

/**
 * Redacts with every redactor this process made: for output that has no session at hand,
 * such as the CLI's last-resort handler printing an unexpected error.
 */
export function redactKnownSecrets(text: unknown): string {
  let out = safeString(text);
  for (const redactor of redactors) out = redactor.redact(out);
  return out;
}

/** `String(value)`, except that it never throws (a Symbol, an object whose toString throws). */
function safeString(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * `text` with each of `values` (in every form {@link Redactor.add} knows) replaced by
 * `[redacted]`: for a plugin that holds secret values itself, such as a target tailing the
 * logs of a container it passed secrets to. Never throws.
 */
export function redactSecrets(text: unknown, values: Iterable<string | undefined>): string {
  const redactor = new Redactor({ register: false });
  for (const value of values) redactor.add(value);
  return redactor.redact(text);
}
