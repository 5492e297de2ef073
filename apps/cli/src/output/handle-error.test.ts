import { ErrorCode, Redactor, StepwiseError } from "@stepwise/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handleError } from "./handle-error.js";

const SECRET = "hunter2-Very-Secret-9f1c";

function capture(run: () => number): { code: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = run();
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe("handleError", () => {
  it("redacts every secret value the process has read, also in an unexpected error's message, stack and --json", () => {
    new Redactor().add(SECRET);
    const internal = new Error(`connect failed for postgres://app:${SECRET}@db`);
    const printed = capture(() => handleError(internal, { json: true, verbose: true, version: "0.0.0" }));
    expect(printed.code).toBe(1);
    expect(printed.stderr).toContain("internal error: connect failed for postgres://app:[redacted]@db");
    expect(printed.stdout).toContain('"code": "INTERNAL"');
    expect(printed.stdout + printed.stderr).not.toContain(SECRET);

    const known = new StepwiseError(ErrorCode.ConfigInvalid, `bad value ${SECRET}`, { hint: `unset ${SECRET}`, exitCode: 2 });
    const again = capture(() => handleError(known, { json: true, verbose: false, version: "0.0.0" }));
    expect(again.code).toBe(2);
    expect(again.stdout + again.stderr).not.toContain(SECRET);
    expect(again.stderr).toContain("fix: unset [redacted]");
  });
});
