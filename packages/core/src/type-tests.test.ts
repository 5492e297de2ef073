import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const project = fileURLToPath(new URL("../type-tests", import.meta.url));

// The contract's type tests (packages/core/type-tests): what must compile does, and every
// `@ts-expect-error` meets its error. Checks the built declarations, as a plugin author sees them.
it("the public entry points type-check as the contract says", async () => {
  const tsc = fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url));
  const result = await run(process.execPath, [tsc, "-p", project], { timeout: 120_000 }).then(
    () => ({ code: 0, out: "" }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, out: `${error.stdout ?? ""}${error.stderr ?? ""}` }),
  );
  expect(result.out).toBe("");
  expect(result.code).toBe(0);
}, 120_000);
