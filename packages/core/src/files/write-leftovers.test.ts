import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { removeAtomicWriteLeftovers } from "./write-leftovers.js";

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), "stepwise-leftovers-"));
const touch = (dir: string, names: string[]) => names.forEach((n) => writeFileSync(path.join(dir, n), "x"));

describe("temp files of killed writers", () => {
  it("removes write-file-atomic's <file>.<digits> of the listed files only", () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, ".stepwise"));
    touch(dir, ["stepwise.yaml", "stepwise.yaml.3012345678", "stepwise.yaml.bak", "other.yaml.12"]);
    touch(path.join(dir, ".stepwise"), ["configure.json", "configure.json.77", "secrets.age.4294967295", "configure.json.77.tmp"]);
    removeAtomicWriteLeftovers([path.join(dir, "stepwise.yaml"), path.join(dir, ".stepwise/configure.json"), path.join(dir, ".stepwise/secrets.age")]);
    expect(readdirSync(dir).sort()).toEqual([".stepwise", "other.yaml.12", "stepwise.yaml", "stepwise.yaml.bak"]);
    expect(readdirSync(path.join(dir, ".stepwise")).sort()).toEqual(["configure.json", "configure.json.77.tmp"]);
  });
});
