import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeFuzzSite } from "../../../../test/fixtures/bad-input.js";
import { parseState } from "../state/state-document.js";
import { deploySite, planSite } from "./deploy.js";
import { SiteSession, applyStateSets } from "./site-session.js";

const planError = async (dir: string, sets: string[] = []) => {
  try {
    await planSite(await SiteSession.open({ dir, sets, env: {} }));
  } catch (error) {
    return error as Error & { code: string; exitCode: number; hint?: string };
  }
  throw new Error("expected plan to refuse");
};

describe("config keys no step owns", () => {
  it("a typo under a step's namespace, in stepwise.yaml or --set, is CONFIG_UNKNOWN with a did-you-mean", async () => {
    const dir = makeFuzzSite();
    const fromSet = await planError(dir, ["app.prot=9999"]);
    expect(fromSet).toMatchObject({ code: "CONFIG_UNKNOWN", exitCode: 2 });
    expect(fromSet.message).toContain("app.prot (from --set): no step owns or reads it; did you mean app.port?");
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: x\nplugins: [stepwise-plugin-fixture]\nconfig:\n  app:\n    greating: hi\n");
    const fromFile = await planError(dir);
    expect(fromFile.message).toMatch(/app\.greating \(from .*stepwise\.yaml:5\): no step owns or reads it; did you mean app\.greeting\?/);
    expect(fromFile.hint).toContain("rename app.greating to app.greeting");
    // the site stays readable for the commands that fix it
    await expect(SiteSession.open({ dir, env: {} })).resolves.toBeDefined();
  });

  it("a namespace no step owns is the site's own (free-form), and owned keys plan as before", async () => {
    const dir = makeFuzzSite();
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: x\nplugins: [stepwise-plugin-fixture]\nconfig:\n  minio: { bukcet: photos }\n  app: { port: 9000 }\n");
    await expect(planSite(await SiteSession.open({ dir, sets: ["app.greeting=hey"], env: {} }))).resolves.toMatchObject({ toRun: 4 });
  });
});

describe("messages that point at the right fix", () => {
  it("templates.source that is the site folder or not a folder says so (not 'write /.template-version')", async () => {
    const dir = makeFuzzSite();
    for (const [source, expected] of [["", /templates\.source is the site folder itself/], ["src/main.js", /templates\.source \(src\/main\.js\) is not a folder/]] as const) {
      writeFileSync(path.join(dir, "stepwise.yaml"), `name: x\nplugins: [stepwise-plugin-fixture]\ntemplates: { source: "${source}" }\n`);
      const error = await planError(dir);
      expect(error).toMatchObject({ code: "SITE_INVALID", exitCode: 2 });
      expect(error.message).toMatch(expected);
      expect(error.hint).not.toContain(".template-version");
    }
  });

  it("a state record without a status says so", () => {
    expect(() => parseState('{"stateVersion":2,"steps":{"x":{}}}', "state.json")).toThrow(/step "x" has no status \(expected "succeeded", "failed" or "running"\)/);
  });
});

describe("a step error never carries a secret value into output or state", () => {
  it("redacts message, code, hint and details of an error a plugin throws, in the result and in state.json", async () => {
    const dir = makeFuzzSite();
    const root = path.join(dir, "node_modules", "leaky-plugin");
    mkdirSync(root);
    writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "leaky-plugin", version: "1.0.0", type: "module", main: "index.js", peerDependencies: { "@stepwise/core": "^0.1.0" } }));
    writeFileSync(
      path.join(root, "index.js"),
      `export default { meta: { name: "leaky-plugin", version: "1.0.0" }, steps: [{ name: "leak", description: "d", secrets: { tok: { description: "t", generate: {} } },
        async run(ctx) { const t = ctx.secrets.get("tok"); throw Object.assign(new Error("failed with " + t), { name: "StepwiseError", code: "E_" + t, hint: "retry with " + t, exitCode: 1, details: { token: t } }); } }] };`,
    );
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: x\nplugins: [leaky-plugin]\n");
    const session = await SiteSession.open({ dir, env: {} });
    const result = await deploySite(session);
    const token = (await session.secrets()).get("tok")!;
    expect(token).toHaveLength(32);
    expect(result.failed).toHaveLength(1);
    const error = result.failed[0]!.error;
    expect(error.hint).toBe("retry with [redacted]");
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
    const state = readFileSync(path.join(dir, ".stepwise/state.json"), "utf8");
    expect(state).toContain('"code": "E_[redacted]"');
    expect(state).not.toContain(token);
  });
});

describe("applyStateSets", () => {
  it("takes state.backend and state.options.* out of --set (whole numbers as numbers) and leaves config entries", () => {
    const site = { state: { backend: "file", options: { path: "s.json" } as Record<string, string | number> } };
    const rest = applyStateSets(site, ["state.backend=azblob", "state.options.container=c1", "state.options.leaseSeconds=15", "app.greeting=hi=there", "state.options.=x"]);
    expect(site.state).toEqual({ backend: "azblob", options: { path: "s.json", container: "c1", leaseSeconds: 15 } });
    expect(rest).toEqual(["app.greeting=hi=there", "state.options.=x"]);
  });
});
