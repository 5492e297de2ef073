import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { siteParseCache } from "../cache/site-parse-cache.js";
import { loadSite, parseSite } from "./load-site.js";
import { checkVersionCompatible } from "./version-rule.js";

const site = (text: string) => parseSite(text, path.join(os.tmpdir(), "stepwise.yaml"));
const failure = (text: string) => {
  try {
    site(text);
  } catch (error) {
    return error as Error & { code: string; exitCode: number; hint?: string };
  }
  throw new Error("expected a failure");
};

describe("stepwise.yaml loading", () => {
  it("reads plugins, target, config as dot paths, services and defaults", () => {
    const s = site(`name: demo
plugins:
  - "@stepwise/target-podman"
  - name: ./plugins/local
    options: { level: 2 }
target: podman
config:
  database:
    name: app
  "email.smtp.port": 587
services:
  web:
    image: nginx
    ports: ["8080:80"]
`);
    expect(s.name).toBe("demo");
    expect(s.preset).toBe("default");
    expect(s.plugins).toEqual([
      { name: "@stepwise/target-podman", options: {} },
      { name: "./plugins/local", options: { level: 2 } },
    ]);
    expect(s.config.get("database.name")).toEqual({ value: "app", location: expect.stringMatching(/stepwise\.yaml:9$/) });
    expect(s.config.get("email.smtp.port")?.value).toBe(587);
    expect(s.state).toEqual({ backend: "file", options: {} });
    expect(s.secrets.backend).toBe("age");
    expect(s.services.web?.ports).toEqual(["8080:80"]);
  });

  it("reads `plugins:`, `config:`, `services:` and `jobs:` with only comments below them as empty", () => {
    const s = site("name: demo\nplugins:\n  # - a\nconfig:\n  # database:\n  #   name: app\nservices:\n  # web: {}\njobs:\n");
    expect(s.plugins).toEqual([]);
    expect(s.config.size).toBe(0);
    expect(s.services).toEqual({});
    expect(s.jobs).toEqual({});
  });

  it("names file and line for malformed YAML", () => {
    const error = failure("name: demo\nplugins: [a\n  b: c\n");
    expect(error.code).toBe("SITE_INVALID");
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/stepwise\.yaml:\d+:\d+: invalid YAML/);
  });

  it("names file, line and key for every schema problem", () => {
    const error = failure("name: demo\nplugins: []\npreset: prod\nservices:\n  web:\n    imag: nginx\n");
    expect(error.message).toMatch(/stepwise\.yaml:3 +preset: must be one of "default", "dev-mode", "airgapped"/);
    expect(error.message).toMatch(/stepwise\.yaml:6 +services\.web\.imag: unknown key/);
  });

  it("refuses a site file of a newer minor schema version, naming both versions", () => {
    const error = failure('schemaVersion: "0.2"\nname: demo\nplugins: []\n');
    expect(error.code).toBe("SITE_VERSION_UNSUPPORTED");
    expect(error.message).toContain("schemaVersion 0.2");
    expect(error.message).toContain("up to 0.1");
  });

  it("reports a missing site with the command that creates one", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-nosite-"));
    expect(() => loadSite(dir)).toThrow(expect.objectContaining({ code: "SITE_NOT_FOUND", hint: expect.stringContaining("stepwise init") }));
    writeFileSync(path.join(dir, "stepwise.yaml"), "- a list\n");
    expect(() => loadSite(dir)).toThrow(expect.objectContaining({ code: "SITE_INVALID" }));
  });
});

describe("the parse cache (.stepwise/cache/site.json)", () => {
  const text = `name: demo\nplugins: []\nconfig:\n  database:\n    name: app\n`;
  const cacheFile = (dir: string) => path.join(dir, ".stepwise", "cache", "site.json");

  it("serves an unchanged stepwise.yaml from the cache, with the same site and lazy line numbers", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-"));
    writeFileSync(path.join(dir, "stepwise.yaml"), text);
    const first = loadSite(dir);
    expect(existsSync(cacheFile(dir))).toBe(true);
    expect(statSync(cacheFile(dir)).mode & 0o777).toBe(0o600);
    // Mark the cached copy: a second load that returns the mark read the cache, not the YAML.
    const cached = siteParseCache.read(dir)!;
    writeFileSync(cacheFile(dir), siteParseCache.encode({ ...cached, site: { ...cached.site, name: "from-cache" } }));
    const second = loadSite(dir);
    expect(second.name).toBe("from-cache");
    expect(second.config.get("database.name")).toEqual({ value: "app", location: expect.stringMatching(/stepwise\.yaml:5$/) });
    expect(second.locate(["config", "database"])).toBe(first.locate(["config", "database"]));
  });

  it("parses afresh after an edit, and ignores a corrupt cache", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-"));
    writeFileSync(path.join(dir, "stepwise.yaml"), text);
    loadSite(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), text.replace("demo", "edited"));
    expect(loadSite(dir).name).toBe("edited");
    writeFileSync(path.join(dir, "stepwise.yaml"), text.replace("demo", "broken: [")); // invalid YAML is never cached
    expect(() => loadSite(dir)).toThrow(expect.objectContaining({ code: "SITE_INVALID", message: expect.stringContaining("invalid YAML") }));
    writeFileSync(path.join(dir, "stepwise.yaml"), text);
    writeFileSync(cacheFile(dir), "{not json");
    expect(loadSite(dir).name).toBe("demo");
  });

  it("does not trust a cached site damaged under an intact key (a cache is a hint, never authority)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-"));
    writeFileSync(path.join(dir, "stepwise.yaml"), text);
    loadSite(dir);
    // The header line (name, version, checksum) kept, the JSON after it changed.
    const [header, body] = readFileSync(cacheFile(dir), "utf8").split(/\n(.*)/s) as [string, string];
    const cached = JSON.parse(body);
    for (const damaged of [{ ...cached.site, name: "damaged" }, { ...cached.site, plugins: 5 }, { ...cached.site, config: null }]) {
      writeFileSync(cacheFile(dir), `${header}\n${JSON.stringify({ ...cached, site: damaged })}`);
      const site = loadSite(dir);
      expect(site.name).toBe("demo");
      expect(site.config.get("database.name")?.value).toBe("app");
    }
  });
});

describe("YAML that cannot be data", () => {
  it.each([
    ["an alias without its anchor", "name: x\nplugins: []\nmode: *release\n", /stepwise\.yaml:3: alias \*release has no anchor &release before it/],
    ["too many aliases", `name: x\nplugins: []\na: &a [1]\nb: [${Array.from({ length: 150 }, () => "*a").join(", ")}]\n`, /aliases expand to too much data/],
    ["an alias inside the mapping it names", "name: x\nplugins: []\nconfig: &c\n  self: *c\n", /nested more than 64 levels deep, or an alias/],
    ["deep nesting", `name: x\nplugins: []\nconfig:\n  a: ${"[".repeat(100)}${"]".repeat(100)}\n`, /nested more than 64 levels deep/],
  ])("%s is SITE_INVALID naming the cause", (_, text, message) => {
    const error = failure(text);
    expect(error).toMatchObject({ code: "SITE_INVALID", exitCode: 2, hint: expect.any(String) });
    expect(error.message).toMatch(message);
  });
});

describe("version rule (templates and site files)", () => {
  it.each([
    ["0.1.0", "0.1.9", undefined],
    ["0.1.0", "0.2.0", "newer"],
    ["0.2.0", "0.1.0", undefined],
    ["1.4", "2.0", "major"],
    ["1.4", "1.4.2", undefined],
    ["1.4", "banana", "not a"],
  ])("reader %s, file %s", (reader, file, problem) => {
    const result = checkVersionCompatible(reader, file);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(problem);
  });
});
