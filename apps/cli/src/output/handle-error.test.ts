import { CommanderError } from "commander";
import { ErrorCode, Redactor, StepwiseError } from "@stepwise/core/engine";
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

  it("with --json, a usage error from argv parsing is still one JSON document on stdout (exit 2)", () => {
    const usage = new CommanderError(1, "commander.unknownOption", "error: unknown option '--nope'");
    const printed = capture(() => handleError(usage, { json: true, verbose: false, version: "0.0.0" }));
    expect(printed.code).toBe(2);
    expect(JSON.parse(printed.stdout)).toEqual({ error: { code: "USAGE", message: "unknown option '--nope'", hint: "stepwise --help" } });
    const noCommand = capture(() => handleError(new CommanderError(1, "commander.help", "(outputHelp)"), { json: true, verbose: false, version: "0.0.0" }));
    expect(noCommand.code).toBe(2);
    expect(JSON.parse(noCommand.stdout)).toMatchObject({ error: { code: "USAGE" } });
  });

  it("never throws, even for an error whose fields throw when read", () => {
    const hostile = new Proxy(new Error("x"), { get: () => { throw new Error("trap"); } });
    const printed = capture(() => handleError(hostile, { json: true, verbose: true, version: "0.0.0" }));
    expect(printed.code).toBe(1);
    expect(JSON.parse(printed.stdout)).toMatchObject({ error: { code: "INTERNAL" } });
  });
});
