import { describe, expect, it } from "vitest";
import type { SiteStep } from "../context/step-context.js";
import { resolveConfig, type OwnedConfigKey } from "../config/resolve-config.js";
import { StepwiseError } from "../errors/stepwise-error.js";
import { combineProblems, unknownConfigKeys, unsetReferences } from "./site-problems.js";

const owned: OwnedConfigKey[] = [{ key: "app.port", spec: { description: "port", default: 8080 }, owner: "app" }];
const step = (name: string, config: string[], siteInput?: SiteStep["siteInput"]): SiteStep => ({
  name,
  description: name,
  pluginId: "p@1.0.0",
  pluginName: "p",
  definition: { name, description: name, run: async () => ({}) },
  dependsOn: [],
  inputs: { files: [], config, secrets: [] },
  foundation: false,
  ...(siteInput ? { siteInput } : {}),
});
const file = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([key, value]) => [key, { value, location: `stepwise.yaml:${key}` }]));

describe("site problems", () => {
  it("a service's ${config.KEY} that nothing owns or sets is named with a did-you-mean; a plugin step's input is not", () => {
    const config = resolveConfig({ owned, preset: "default", file: file({ "site.domain": "example.org" }), env: {}, sets: [] });
    const web = step("service:web", ["site.domian", "site.domain", "app.port"], { key: "services.web", value: {} });
    const problem = unsetReferences([web, step("app", ["elsewhere.key"])], owned, config);
    expect(problem).toMatchObject({ code: "CONFIG_MISSING" });
    expect(problem!.message).toBe("stepwise.yaml references config that is not set:\n  - services.web references ${config.site.domian}, which no step owns and nothing sets (did you mean site.domain?)");
    expect(unsetReferences([step("app", ["elsewhere.key"])], owned, config)).toBeUndefined();
  });

  it("a key under an owned namespace that no step owns or reads is unknown; the site's own namespaces are free-form", () => {
    const problem = unknownConfigKeys([step("app", ["app.greeting"])], owned, { config: file({ "app.prot": "1", "app.greeting": "hi", "minio.bukcet": "x" }) }, ["app.port=1", "app.hots=x"]);
    expect(problem).toMatchObject({ code: "CONFIG_UNKNOWN", details: { keys: ["app.prot", "app.hots"] } });
    expect(problem!.message).toContain("app.prot (from stepwise.yaml:app.prot): no step owns or reads it; did you mean app.port?");
    expect(unknownConfigKeys([], owned, { config: file({ "minio.bukcet": "x" }) }, [])).toBeUndefined();
  });

  it("several problems become one error with the first's code and hint and every fix", () => {
    const first = new StepwiseError("CONFIG_MISSING", "first", { hint: "fix one" });
    const second = new StepwiseError("RESOURCE_KIND_UNSUPPORTED", "second", { hint: "fix two" });
    expect(combineProblems([])).toBeUndefined();
    expect(combineProblems([first])).toBe(first);
    expect(combineProblems([first, second])).toMatchObject({ code: "CONFIG_MISSING", hint: "fix one", message: "first\n    fix: fix one\nsecond\n    fix: fix two" });
  });
});
