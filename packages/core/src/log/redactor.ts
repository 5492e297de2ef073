/** Shorter values are not redacted: they would mangle ordinary text and protect nothing. */
const MIN_SECRET_LENGTH = 4;
export const REDACTED = "[redacted]";

/** Every redactor of this process, for {@link redactKnownSecrets}. */
const redactors = new Set<Redactor>();

/** Replaces every known secret value (and its JSON-escaped form) in text. */
export class Redactor {
  private pattern: RegExp | undefined;
  private readonly values = new Set<string>();

  constructor() {
    redactors.add(this);
  }

  add(value: string | undefined): void {
    if (!value || value.length < MIN_SECRET_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.values.add(escaped);
    this.pattern = undefined;
  }

  redact(text: string): string {
    if (this.values.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
    return text.replace(this.pattern, REDACTED);
  }
}

/**
 * Redacts with every redactor this process made: for output that has no session at hand,
 * such as the CLI's last-resort handler printing an unexpected error.
 */
export function redactKnownSecrets(text: string): string {
  let out = text;
  for (const redactor of redactors) out = redactor.redact(out);
  return out;
}
