import { describe, expect, it } from "vitest";
import { formatUptime } from "../commands/status.js";

describe("uptime", () => {
  it.each([
    [12_000, "12s"],
    [250_000, "4m 10s"],
    [7_500_000, "2h 5m"],
    [3 * 86_400_000 + 4 * 3_600_000, "3d 4h"],
    [-5, "0s"],
  ])("%d ms is %s", (ms, text) => expect(formatUptime(ms)).toBe(text));
});
