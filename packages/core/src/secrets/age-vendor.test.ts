// The build's pre-bundled age (scripts/bundle-vendor.mjs) keeps the post-quantum and P-256
// parts out of the load of every command that reads secrets, and still decrypts with them.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const vendor = path.resolve(import.meta.dirname, "../../dist/vendor/age-encryption.js");

describe("dist/vendor/age-encryption.js", () => {
  it.skipIf(!existsSync(vendor))("X25519 without loading age-pq.cjs; hybrid and P-256 recipients load it on first use", async () => {
    const script = `
      import { createRequire } from "node:module";
      const age = await import(${JSON.stringify(vendor)});
      const pqLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.endsWith("age-pq.cjs"));
      async function roundTrip(identity, extraRecipient) {
        const e = new age.Encrypter();
        e.addRecipient(await age.identityToRecipient(identity));
        if (extraRecipient) e.addRecipient(extraRecipient);
        const d = new age.Decrypter();
        d.addIdentity(identity);
        return d.decrypt(await e.encrypt("value"), "text");
      }
      const x25519 = await roundTrip(await age.generateX25519Identity());
      const afterX25519 = pqLoaded();
      const hybrid = await roundTrip(await age.generateHybridIdentity());
      console.log(JSON.stringify({ x25519, afterX25519, hybrid, afterHybrid: pqLoaded() }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    expect(JSON.parse(stdout)).toEqual({ x25519: "value", afterX25519: false, hybrid: "value", afterHybrid: true });
  });
});
