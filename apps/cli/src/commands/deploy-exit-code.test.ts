import { describe, expect, it } from "vitest";
import { ExitCode, StepwiseError } from "@stepwise/core/engine";
import { deployExitCode } from "./deploy.js";

const failure = (step: string, exitCode: number) => ({ step, error: new StepwiseError("X", "failed", { exitCode: exitCode as ExitCode }) });

describe("deployExitCode", () => {
  it("is 0 for ok and a dry run, 130 when interrupted", () => {
    expect(deployExitCode({ status: "ok", failed: [] })).toBe(0);
    expect(deployExitCode({ status: "dry-run", failed: [] })).toBe(0);
    expect(deployExitCode({ status: "interrupted", failed: [] })).toBe(130);
  });

  it("is 2 when every failed step failed on bad input or a host that cannot run it, else 1", () => {
    expect(deployExitCode({ status: "failed", failed: [failure("database", ExitCode.BadInput)] })).toBe(2);
    expect(deployExitCode({ status: "failed", failed: [failure("database", ExitCode.BadInput), failure("web", ExitCode.StepFailed)] })).toBe(1);
    expect(deployExitCode({ status: "failed", failed: [failure("web", ExitCode.StepFailed)] })).toBe(1);
  });
});
