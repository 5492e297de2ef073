import fc from "fast-check";
import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { compileGlob, GlobSelector, globBase } from "./glob-selector.js";

const segment = fc.constantFrom("a", "b", "src", ".hidden", "x.ts", "y.json", ".ts", "node", "a.b.ts");
const filePath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join("/"));
const glob = fc.oneof(
  fc.constantFrom("**", "*", "*.ts", "**/*.ts", "**/*", "a/**", "a/**/*.ts", "a/*.ts", "a/*", "a/b/**", "src/**/*.json", "a/x.ts", "a/**/*", "x.ts"),
  fc.tuple(fc.array(fc.constantFrom("a", "b", "src"), { maxLength: 3 }), fc.constantFrom("**", "**/*.ts", "*.json", "*", "**/*", "{a,b}/*.ts", "?.ts", "[ab]/**")).map(([dirs, tail]) => [...dirs, tail].join("/")),
);

describe("compileGlob", () => {
  it("matches exactly what picomatch (dot: true) matches, fast paths included", () => {
    fc.assert(
      fc.property(glob, filePath, (pattern, file) => {
        expect(compileGlob(pattern)(file)).toBe(picomatch(pattern, { dot: true })(file));
      }),
      { numRuns: 3000 },
    );
  });

  it("a file matched by a glob lies under the glob's base", () => {
    fc.assert(
      fc.property(glob, filePath, (pattern, file) => {
        const { base } = globBase(pattern);
        if (compileGlob(pattern)(file)) expect(base === "" || file.startsWith(`${base}/`) || file === base).toBe(true);
      }),
    );
  });
});

describe("GlobSelector", () => {
  it("selects for each step what its includes match and its excludes do not, in any order of files", () => {
    fc.assert(
      fc.property(fc.array(fc.array(glob, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }), fc.array(filePath, { maxLength: 30 }), (stepGlobs, files) => {
        const globs = new Map(stepGlobs.map((g, i) => [`s${i}`, i % 2 ? [...g, "!**/*.json"] : g]));
        const selector = new GlobSelector(globs);
        for (const file of files) {
          const expected = [...globs].flatMap(([, patterns], i) => {
            const includes = patterns.filter((p) => !p.startsWith("!"));
            const excludes = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
            return includes.some((p) => picomatch(p, { dot: true })(file)) && !excludes.some((p) => picomatch(p, { dot: true })(file)) ? [i] : [];
          });
          expect((selector.select(file) ?? []).sort()).toEqual(expected);
          if (expected.length) expect(selector.reaches(file.slice(0, Math.max(0, file.lastIndexOf("/"))))).toBe(true);
        }
      }),
    );
  });

  it("walks the fewest roots", () => {
    const selector = new GlobSelector(new Map([["s", ["a/b/**", "a/**/*.ts", "c/*.json", "c/d/**", "../shared/**"]]]));
    expect(selector.roots()).toEqual(["../shared", "a", "c"]);
    expect(selector.reaches("a/b/c")).toBe(true);
    expect(selector.reaches("e")).toBe(false);
    expect(selector.reaches("c")).toBe(true);
  });
});
