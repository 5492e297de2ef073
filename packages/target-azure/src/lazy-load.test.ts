// Loading the plugin (what every command of an Azure site, and `stepwise --version`, does) must
// not load an Azure SDK: they are imported only when a step first talks to Azure.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const dist = path.resolve(import.meta.dirname, "../dist/index.js");

describe("@stepwise/target-azure plugin load", () => {
  it.skipIf(!existsSync(dist))("imports no @azure module, nor the podman target or dockerode (image builds load them)", async () => {
    const script = `
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      const plugin = (await import(${JSON.stringify(dist)})).default({});
      console.log(JSON.stringify({ targets: plugin.targets.map((t) => t.name), azure: seen.filter((u) => /@azure|target-podman|dockerode/.test(u)) }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    const result = JSON.parse(stdout) as { targets: string[]; azure: string[] };
    expect(result.targets).toEqual(["azure"]);
    expect(result.azure).toEqual([]);
  });
});
