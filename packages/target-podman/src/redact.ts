/**
 * Replaces every occurrence of each secret value (and its base64 form) in `text` with `***`.
 * Values shorter than 4 characters are left alone, as redacting them would mangle ordinary text.
 */
export function redactSecrets(text: string, values: Iterable<string | undefined>): string {
  let out = text;
  const needles = new Set<string>();
  for (const value of values) {
    if (value === undefined || value.length < 4) continue;
    needles.add(value);
    needles.add(Buffer.from(value).toString("base64"));
    const trimmed = value.trim();
    if (trimmed.length >= 4) needles.add(trimmed);
  }
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    out = out.split(needle).join("***");
  }
  return out;
}
