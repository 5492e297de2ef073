// Listing the plugin (every command of a site that does) must not load the Azure SDK or the
// backend: they load when a site selects `state: { backend: azblob }`.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const dist = path.resolve(import.meta.dirname, "../dist/index.js");

describe("@stepwise/state-azblob plugin load", () => {
  it.skipIf(!existsSync(dist))("imports no @azure module and not the backend until the factory runs", async () => {
    const script = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      const plugin = (await import(${JSON.stringify(dist)})).default({});
      const before = seen.filter((u) => u.includes("@azure") || u.includes("azblob-backend")).length;
      await plugin.stateBackends.azblob({ account: "acct", container: "state" }, { siteDir: "/tmp", siteName: "s", warn() {} });
      console.log(JSON.stringify({ backends: Object.keys(plugin.stateBackends), before, after: seen.filter((u) => u.includes("@azure/storage-blob")).length }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    const result = JSON.parse(stdout) as { backends: string[]; before: number; after: number };
    expect(result.backends).toEqual(["azblob"]);
    expect(result.before).toBe(0);
    expect(result.after).toBeGreaterThan(0);
  });
});
