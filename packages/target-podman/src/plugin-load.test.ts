// Loading the plugin is part of every command of a Podman site. Node's ES module facade of
// `node:http` reads its `WebSocket`/`EventSource` getters, which load all of undici (~28 ms);
// the build reaches http through `require` (scripts/bundle-dist.mjs), so it must not load.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const dist = path.resolve(import.meta.dirname, "../dist/index.js");

describe("@stepwise/target-podman plugin load", () => {
  it.skipIf(!existsSync(dist))("loads neither undici nor webcrypto", async () => {
    const script = `
      const plugin = (await import(${JSON.stringify(dist)})).default({});
      const loaded = process.moduleLoadList.filter((name) => /undici|webcrypto/.test(name));
      console.log(JSON.stringify({ targets: plugin.targets.map((t) => t.name), http: process.moduleLoadList.some((name) => name.endsWith(" http")), loaded }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    const result = JSON.parse(stdout) as { targets: string[]; http: boolean; loaded: string[] };
    expect(result.targets).toEqual(["podman"]);
    expect(result.http).toBe(true); // the check means something: http itself is loaded
    expect(result.loaded).toEqual([]);
  });
});
