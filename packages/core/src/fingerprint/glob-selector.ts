import { createRequire } from "node:module";

/** Never inputs: stepwise's own state, VCS metadata and installed packages. */
export const DEFAULT_IGNORES = [".stepwise/**", "**/.git/**", "**/node_modules/**"];

const IGNORED_PATH = /(?:^|\/)(?:\.git|node_modules)(?:\/|$)|^\.stepwise(?:\/|$)/;

/** True for paths {@link DEFAULT_IGNORES} leaves out (and for a `.git` file of a nested checkout). */
export function isDefaultIgnored(file: string): boolean {
  return IGNORED_PATH.test(file);
}

/** True for a directory name the walk never enters (`rel` is the directory's site-relative path). */
export function isIgnoredDirectory(rel: string, name: string): boolean {
  return name === ".git" || name === "node_modules" || rel === ".stepwise";
}

export interface GlobSet {
  include: string[];
  exclude: string[];
}

/** Splits `["app/**", "!app/tmp/**"]` into include and exclude globs. */
export function splitGlobs(patterns: readonly string[]): GlobSet {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith("!")) exclude.push(normalizeGlob(pattern.slice(1)));
    else include.push(normalizeGlob(pattern));
  }
  return { include, exclude };
}

function normalizeGlob(pattern: string): string {
  let glob = pattern;
  while (glob.startsWith("./")) glob = glob.slice(2);
  return glob;
}

const SPECIAL = /[*?[\]{}()!+@\\]/;

/** The literal directory a glob starts with ("" for the site root), and whether the rest is a pattern. */
export function globBase(glob: string): { base: string; literal: boolean } {
  if (!SPECIAL.test(glob)) {
    const slash = glob.lastIndexOf("/");
    return { base: slash < 0 ? "" : glob.slice(0, slash), literal: true };
  }
  const parts = glob.split("/");
  const base: string[] = [];
  for (const part of parts) {
    if (SPECIAL.test(part)) break;
    base.push(part);
  }
  return { base: base.join("/"), literal: false };
}

type Matcher = (file: string) => boolean;

const SUBTREE = /^((?:[^*?[\]{}()!+@\\/]+\/)*)\*\*$/;

/** For `dir/**` the directory `dir` ("" for `**`): the glob selects every file under it. */
export function subtreeOf(glob: string): string | undefined {
  const m = SUBTREE.exec(glob);
  return m ? m[1]!.slice(0, -1) : undefined;
}

let picomatch: ((glob: string, options: object) => Matcher) | undefined;

/**
 * A matcher with picomatch's meaning (`dot: true`). The shapes steps write most (`dir/**`,
 * `dir/**\/*.ext`, `dir/*.ext`, a literal path) are plain string tests; anything else goes
 * to picomatch, loaded only then.
 */
export function compileGlob(glob: string): Matcher {
  if (!SPECIAL.test(glob)) return (file) => file === glob;
  let m = /^((?:[^*?[\]{}()!+@\\/]+\/)*)\*\*$/.exec(glob);
  if (m) {
    const prefix = m[1]!;
    const self = prefix.slice(0, -1);
    return prefix === "" ? () => true : (file) => file.startsWith(prefix) || file === self;
  }
  m = /^((?:[^*?[\]{}()!+@\\/]+\/)*)\*\*\/\*([^*?[\]{}()!+@\\/]*)$/.exec(glob);
  if (m) {
    const prefix = m[1]!;
    const suffix = m[2]!;
    return (file) => file.length >= prefix.length + suffix.length && file.startsWith(prefix) && file.endsWith(suffix);
  }
  m = /^((?:[^*?[\]{}()!+@\\/]+\/)*)\*([^*?[\]{}()!+@\\/]*)$/.exec(glob);
  if (m) {
    const prefix = m[1]!;
    const suffix = m[2]!;
    return (file) => file.length >= prefix.length + suffix.length && file.startsWith(prefix) && file.endsWith(suffix) && file.indexOf("/", prefix.length) < 0;
  }
  picomatch ??= createRequire(import.meta.url)("picomatch") as typeof picomatch;
  return picomatch!(glob, { dot: true });
}

interface IncludeRule {
  step: number;
  matches: Matcher;
  /** Set for `dir/**` globs: every file under this directory matches. */
  subtree: string | undefined;
}

/** What decides selection for the files of one directory. */
interface DirectoryPlan {
  /** Steps that select every file of the directory (a `dir/**` of theirs covers it, and they exclude nothing). */
  always: number[];
  /** Rules to test file by file. */
  perFile: IncludeRule[];
}

/**
 * Which steps select a file, for many steps and files at once: every include glob is filed
 * under its literal base directory, so a file is tested only against the globs whose base
 * is one of its ancestors (a handful), not against every glob of every step.
 */
export class GlobSelector {
  /** Steps with at least one include glob, in the order given. */
  readonly steps: string[] = [];
  private readonly rulesByBase = new Map<string, IncludeRule[]>();
  private readonly plans = new Map<string, DirectoryPlan>();
  /** Rules by the parent directory of their base. */
  private readonly rulesByBaseParent = new Map<string, IncludeRule[]>();
  private lastDirectory = "\0";
  private lastPlan: DirectoryPlan = { always: [], perFile: [] };
  private readonly excludes: (Matcher | undefined)[] = [];
  private readonly bases = new Set<string>();
  /** Every proper ancestor directory of a base ("" excluded). */
  private readonly baseAncestors = new Set<string>();

  constructor(globsByStep: ReadonlyMap<string, readonly string[]>) {
    for (const [step, patterns] of globsByStep) {
      const set = splitGlobs(patterns);
      if (set.include.length === 0) continue;
      const index = this.steps.push(step) - 1;
      for (const glob of set.include) {
        const { base } = globBase(glob);
        const rule: IncludeRule = { step: index, matches: compileGlob(glob), subtree: subtreeOf(glob) };
        const rules = this.rulesByBase.get(base) ?? [];
        rules.push(rule);
        this.rulesByBase.set(base, rules);
        if (base !== "") {
          const parent = base.includes("/") ? base.slice(0, base.lastIndexOf("/")) : "";
          const siblings = this.rulesByBaseParent.get(parent) ?? [];
          siblings.push(rule);
          this.rulesByBaseParent.set(parent, siblings);
        }
        this.bases.add(base);
        for (let slash = base.indexOf("/"); slash >= 0; slash = base.indexOf("/", slash + 1)) this.baseAncestors.add(base.slice(0, slash));
      }
      const excludes = set.exclude.map(compileGlob);
      this.excludes[index] = excludes.length === 0 ? undefined : excludes.length === 1 ? excludes[0] : (file) => excludes.some((m) => m(file));
    }
  }

  /**
   * Indices (into {@link steps}) of the steps that select `file`, or undefined for none.
   * `file` is relative to the site with POSIX separators.
   */
  select(file: string): readonly number[] | undefined {
    const slash = file.lastIndexOf("/");
    let plan: DirectoryPlan;
    const last = this.lastDirectory;
    // Listings come sorted, so a file is usually in the same directory as the one before.
    if (slash >= 0 && slash === last.length && file.startsWith(last)) plan = this.lastPlan;
    else {
      const dir = slash < 0 ? "" : file.slice(0, slash);
      let found = this.plans.get(dir);
      if (found === undefined) {
        found = this.planFor(dir);
        this.plans.set(dir, found);
      }
      this.lastDirectory = dir;
      this.lastPlan = plan = found;
    }
    const { always, perFile } = plan;
    if (perFile.length === 0) return always.length > 0 ? always : undefined;
    let hits: number[] | undefined = always.length > 0 ? [...always] : undefined;
    for (const rule of perFile) {
      if (!rule.matches(file) || hits?.includes(rule.step)) continue;
      if (this.excludes[rule.step]?.(file)) continue;
      (hits ??= []).push(rule.step);
    }
    return hits;
  }

  private planFor(dir: string): DirectoryPlan {
    const always: number[] = [];
    const perFile: IncludeRule[] = [];
    for (const rule of this.rulesUnder(dir)) {
      const covers = rule.subtree !== undefined && (rule.subtree === "" || dir === rule.subtree || dir.startsWith(`${rule.subtree}/`));
      if (covers && !this.excludes[rule.step]) {
        if (!always.includes(rule.step)) always.push(rule.step);
      } else perFile.push(rule);
    }
    return { always, perFile: perFile.filter((rule) => !always.includes(rule.step)) };
  }

  /** Rules whose base is `dir` or one of its ancestors (files of one directory share them). */
  private rulesUnder(dir: string): IncludeRule[] {
    // A glob can match its own base as a file ("app/**" matches a file named "app").
    const rules: IncludeRule[] = [...(this.rulesByBaseParent.get(dir) ?? [])];
    rules.push(...(this.rulesByBase.get("") ?? []));
    if (dir === "") return rules;
    for (let slash = dir.indexOf("/"); ; slash = dir.indexOf("/", slash + 1)) {
      const found = this.rulesByBase.get(slash < 0 ? dir : dir.slice(0, slash));
      if (found) rules.push(...found);
      if (slash < 0) return rules;
    }
  }

  /** Whether some glob could select a file under directory `dir` (site-relative, no trailing slash). */
  reaches(dir: string): boolean {
    if (dir === "") return this.bases.size > 0;
    if (this.bases.has("") || this.bases.has(dir) || this.baseAncestors.has(dir)) return true;
    for (let slash = dir.indexOf("/"); slash >= 0; slash = dir.indexOf("/", slash + 1)) if (this.bases.has(dir.slice(0, slash))) return true;
    return false;
  }

  /** The fewest directories whose walk covers every glob (site-relative; "" is the site itself). */
  roots(): string[] {
    const sorted = [...this.bases].sort();
    const roots: string[] = [];
    for (const base of sorted) {
      const last = roots[roots.length - 1];
      if (last !== undefined && (last === "" || base === last || base.startsWith(`${last}/`))) continue;
      roots.push(base);
    }
    return roots;
  }
}
