import { nodeCrypto } from "../fingerprint/node-crypto.js";
import type { SecretGenerator } from "../contracts.js";

const ALPHABETS: Record<string, string> = {
  alnum: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

export function secretAlphabet(generator: SecretGenerator): string {
  const name = generator.alphabet ?? "alnum";
  return ALPHABETS[name] ?? name;
}

/**
 * A new secret from the OS CSPRNG: each character is drawn uniformly (crypto.randomInt does
 * rejection sampling, so there is no modulo bias).
 */
export function generateSecret(generator: SecretGenerator = {}): string {
  const alphabet = [...new Set(secretAlphabet(generator))];
  const length = generator.length ?? 32;
  if (alphabet.length < 2) throw new Error(`secret alphabet needs at least 2 distinct characters, got ${alphabet.length}`);
  if (!Number.isInteger(length) || length < 8 || length > 4096) throw new Error(`secret length must be an integer from 8 to 4096, got ${length}`);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[nodeCrypto().randomInt(alphabet.length)];
  return out;
}
