import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import picomatch from "picomatch";
import { afterEach, describe, expect, it } from "vitest";
import { FileHashCache } from "./file-hash-cache.js";
import { prefetchGitListing } from "./git-listing.js";
import { openSiteFileInputs } from "./site-files.js";
import { addSubmodule, commitAll, git, initRepo as init } from "../../../../test/fixtures/git-repo.js";

// Every way a site can sit in (or out of) git must give a step the same files with the same
// ids: the git index, git's untracked (collapsed) directories and the plain walk are three
// listings of one tree. A wrong one silently skips changed code, so each layout is also edited
// and listed again, with the caches the earlier listings left.

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Tree = ReadonlyMap<string, Uint8Array>;

function writeTree(dir: string, tree: Tree): void {
  for (const [file, content] of tree) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
}

/** A repository at `root` with `committed` in it, and the site at `siteAt` under it, never added. */
function neverAdded(root: string, committed: Record<string, string>, siteAt: string, tree: Tree): string {
  const parent = init(root);
  writeTree(parent, new Map(Object.entries(committed).map(([file, text]) => [file, Buffer.from(text)])));
  commitAll(parent);
  writeTree(path.join(parent, siteAt), tree);
  return path.join(parent, siteAt);
}

/** A site's tree, and which of its files the partly tracked layout commits, or commits with other content. */
interface Sample {
  tree: Tree;
  /** Per file, in tree order: 0 untracked, 1 committed as is, 2 committed with other content and edited since. */
  tracking: readonly number[];
}

/**
 * The layouts: each lays `sample` out under `root` and returns the site directory. Between
 * them they take every listing path: the index, `ls-files -o --directory` with the site
 * itself collapsed (`./`) or some of its directories, a gitfile's index (worktree, submodule)
 * and no git at all.
 */
const LAYOUTS: Record<string, (root: string, sample: Sample) => string> = {
  "own repository, all committed": (root, { tree }) => {
    const site = init(path.join(root, "site"));
    writeTree(site, tree);
    commitAll(site);
    return site;
  },
  "untracked inside a parent repository": (root, { tree }) => neverAdded(root, { README: "parent\n" }, "site", tree),
  "under an untracked directory of a parent repository": (root, { tree }) => neverAdded(root, { README: "parent\n" }, "sites/one", tree),
  "partly tracked, in a subdirectory of the repository": (root, { tree, tracking }) => {
    const parent = init(root);
    const site = path.join(parent, "deploy");
    const files = [...tree.keys()];
    const committed = new Map<string, Uint8Array>();
    files.forEach((file, i) => {
      if (tracking[i] === 1) committed.set(file, tree.get(file)!);
      if (tracking[i] === 2) committed.set(file, Buffer.concat([tree.get(file)!, Buffer.from("\nold")]));
    });
    writeTree(site, committed);
    commitAll(parent);
    writeTree(site, tree);
    return site;
  },
  "ignored by the parent's .gitignore": (root, { tree }) => neverAdded(root, { ".gitignore": "/site/\n" }, "site", tree),
  "no git at all": (root, { tree }) => {
    writeTree(path.join(root, "site"), tree);
    return path.join(root, "site");
  },
  "a linked worktree": (root, { tree }) => {
    const main = init(path.join(root, "main"));
    writeTree(main, tree);
    commitAll(main);
    git(main, "worktree", "add", "-q", "-b", "site", path.join(root, "site"));
    return path.join(root, "site");
  },
  "a submodule of a parent repository": (root, { tree }) => {
    const upstream = init(path.join(root, "upstream"));
    writeTree(upstream, tree);
    commitAll(upstream);
    const parent = init(path.join(root, "parent"));
    commitAll(parent);
    addSubmodule(parent, upstream, "site");
    commitAll(parent);
    git(path.join(parent, "site"), "config", "core.autocrlf", "false");
    return path.join(parent, "site");
  },
  "src/ a repository of its own inside the site's (git lists it as one directory)": (root, { tree }) => {
    const site = init(path.join(root, "site"));
    writeTree(site, tree);
    commitAll(init(path.join(site, "src")));
    commitAll(site);
    return site;
  },
  "src/ a submodule of the site's repository": (root, { tree }) => {
    const inSrc = new Map([...tree].filter(([file]) => file.startsWith("src/")).map(([file, bytes]) => [file.slice(4), bytes]));
    const upstream = init(path.join(root, "upstream"));
    writeTree(upstream, inSrc);
    commitAll(upstream);
    // The site is a subdirectory of the repository, so .gitmodules is not one of its files.
    const parent = init(path.join(root, "parent"));
    writeTree(path.join(parent, "site"), new Map([...tree].filter(([file]) => !file.startsWith("src/"))));
    commitAll(parent);
    addSubmodule(parent, upstream, "site/src");
    commitAll(parent);
    return path.join(parent, "site");
  },
};

/** The oracle: the tree's files each step's globs select (picomatch, as documented), with git's blob id of their bytes. */
function expected(tree: Tree, globs: Record<string, string[]>): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  for (const [step, patterns] of Object.entries(globs)) {
    const include = patterns.filter((p) => !p.startsWith("!"));
    const exclude = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
    if (include.length === 0) continue;
    const selected: Record<string, string> = {};
    for (const file of [...tree.keys()].sort()) {
      if (!picomatch(include, { dot: true })(file) || (exclude.length > 0 && picomatch(exclude, { dot: true })(file))) continue;
      const bytes = tree.get(file)!;
      selected[file] = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
    }
    result[step] = selected;
  }
  return result;
}

/** One plan's worth: a fresh cache object, optionally git started early as the CLI does, then the collection. */
async function listOnce(site: string, globs: Record<string, string[]>, prefetch: boolean) {
  if (prefetch) prefetchGitListing(site);
  const cache = new FileHashCache(site, path.join(site, ".stepwise", "cache", "file-ids.bin"));
  const inputs = await openSiteFileInputs(site, new Map(Object.entries(globs)), cache);
  const before = inputs.identity;
  const collected = await inputs.collect();
  const files = Object.fromEntries([...collected].map(([step, stepFiles]) => [step, Object.fromEntries(stepFiles)]));
  return { before, after: inputs.identity, files };
}

const DIRS = ["", "src/", "src/lib/", "conf/", "data/deep/"];
const NAMES = ["a.txt", "b.js", "c", ".env"];
const filePath = fc.tuple(fc.constantFrom(...DIRS), fc.constantFrom(...NAMES)).map(([dir, name]) => dir + name);
const content = fc.oneof(fc.string({ maxLength: 12 }).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)));
const sample: fc.Arbitrary<Sample> = fc
  .uniqueArray(fc.tuple(filePath, content), { minLength: 1, maxLength: 8, selector: ([file]) => file })
  .chain((entries) =>
    fc.record({
      tree: fc.constant(new Map(entries) as Tree),
      tracking: fc.array(fc.constantFrom(0, 1, 2), { minLength: entries.length, maxLength: entries.length }),
    }),
  );
const GLOBS = ["**", "src/**", "src/**/*.js", "conf/*", "*.txt", "data/deep/c", "**/.env", "!src/lib/**", "!**/*.js"];
const stepGlobs = fc.array(fc.subarray(GLOBS, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }).map((steps) => Object.fromEntries(steps.map((g, i) => [`s${i}`, g])));

/** Each run sets up ten layouts with a dozen git processes each: ~0.8 s. `STEPWISE_LAYOUT_RUNS=200` searches further. */
const RUNS = Number(process.env.STEPWISE_LAYOUT_RUNS ?? 5);

describe("every listing of a site gives the same files", () => {
  it("in each git layout and none, equal to a plain walk and hash, before and after an edit, with and without caches", async () => {
    await fc.assert(
      fc.asyncProperty(sample, stepGlobs, fc.nat(), fc.boolean(), fc.boolean(), async (site, globs, pick, sameSize, prefetch) => {
        const edited = [...site.tree.keys()][pick % site.tree.size]!;
        const old = site.tree.get(edited)!;
        // Same size (and, this soon, the same mtime) or not: the listings must see either.
        const edit = sameSize && old.length > 0 ? Buffer.from(old.map((byte, i) => (i === 0 ? byte ^ 1 : byte))) : Buffer.concat([old, Buffer.from("+")]);
        const after = new Map(site.tree).set(edited, edit);
        for (const [layout, lay] of Object.entries(LAYOUTS)) {
          const root = mkdtempSync(path.join(os.tmpdir(), "stepwise-layout-"));
          made.push(root);
          const dir = lay(root, site);
          const first = await listOnce(dir, globs, prefetch);
          expect(first.files, `${layout}: first listing`).toEqual(expected(site.tree, globs));
          const second = await listOnce(dir, globs, prefetch); // with the caches the first left
          expect(second.files, `${layout}: second listing`).toEqual(expected(site.tree, globs));
          writeFileSync(path.join(dir, edited), after.get(edited)!);
          const third = await listOnce(dir, globs, prefetch);
          const changed = JSON.stringify(expected(after, globs)) !== JSON.stringify(expected(site.tree, globs));
          // An identity known before listing vouches for the files of the listing it was made for.
          if (changed && third.before !== undefined) expect(third.before, `${layout}: identity after ${edited} changed`).not.toBe(second.after);
          expect(third.files, `${layout}: after editing ${edited}`).toEqual(expected(after, globs));
          const fourth = await listOnce(dir, globs, prefetch);
          expect(fourth.files, `${layout}: again after the edit`).toEqual(expected(after, globs));
        }
      }),
      { numRuns: RUNS },
    );
  }, RUNS * 5_000);
});
