import { describe, expect, it } from "vitest";
import { formatSize } from "./format-size.js";

describe("formatSize", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [12 * 1024, "12 KiB"],
    [3.4 * 1024 * 1024, "3.4 MiB"],
    [1.25 * 1024 ** 3, "1.3 GiB"],
  ])("%d bytes is %s", (bytes, text) => expect(formatSize(bytes)).toBe(text));
});
