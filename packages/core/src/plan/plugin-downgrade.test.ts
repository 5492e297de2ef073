import { describe, expect, it } from "vitest";
import type { StateDocument, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { emptyState } from "../state/state-document.js";
import { assertNoPluginDowngrade, pluginDowngrades } from "./plugin-downgrade.js";

const step = (name: string, pluginId: string): SiteStep => ({ name, pluginId, pluginName: pluginId.slice(0, pluginId.lastIndexOf("@")) }) as SiteStep;
const record = (plugin: string): StepRecord => ({ status: "succeeded", plugin, startedAt: "2026-01-01T00:00:00.000Z" });
function stateOf(records: Record<string, string>): StateDocument {
  const state = emptyState("site");
  for (const [name, plugin] of Object.entries(records)) state.steps[name] = record(plugin);
  return state;
}

describe("pluginDowngrades", () => {
  it("is empty when state records the installed versions or older ones (upgrades compare as semver, not strings)", async () => {
    const steps = [step("a", "@acme/p@1.10.0"), step("b", "q@2.0.0")];
    expect(await pluginDowngrades(steps, stateOf({ a: "@acme/p@1.10.0", b: "q@2.0.0" }))).toEqual([]);
    expect(await pluginDowngrades(steps, stateOf({ a: "@acme/p@1.9.0", b: "q@2.0.0-rc.1" }))).toEqual([]);
  });

  it("names each plugin once with the newest recorded version and its steps", async () => {
    const steps = [step("a", "@acme/p@1.2.0"), step("b", "@acme/p@1.2.0"), step("c", "q@1.0.0")];
    expect(await pluginDowngrades(steps, stateOf({ a: "@acme/p@1.10.0", b: "@acme/p@1.3.0", c: "q@1.0.0" }))).toEqual([
      { plugin: "@acme/p", recorded: "1.10.0", installed: "1.2.0", steps: ["a", "b"] },
    ]);
  });

  it("ignores records of plugins the site no longer has, and versions that are not semver", async () => {
    const steps = [step("a", "p@1.0.0")];
    expect(await pluginDowngrades(steps, stateOf({ a: "p@next", gone: "other@9.0.0" }))).toEqual([]);
  });

  it("passes over damaged records (no plugin, not a string, no record): those are reported where state is used", async () => {
    const state = stateOf({});
    state.steps = { a: { status: "succeeded" }, b: { plugin: 7 }, c: null } as unknown as StateDocument["steps"];
    expect(await pluginDowngrades([step("a", "p@1.0.0")], state)).toEqual([]);
  });
});

describe("assertNoPluginDowngrade", () => {
  const steps = [step("web", "p@1.0.0")];
  const state = stateOf({ web: "p@2.0.0" });

  it("refuses with PLUGIN_DOWNGRADE, exit 2, naming the versions and the fix", async () => {
    const refused = assertNoPluginDowngrade(steps, state, false);
    await expect(refused).rejects.toMatchObject({ code: "PLUGIN_DOWNGRADE", exitCode: 2, plugin: "p@1.0.0" });
    await expect(refused).rejects.toThrow("p: state was written by 2.0.0, 1.0.0 is installed (steps web)");
    await expect(refused).rejects.toMatchObject({ hint: expect.stringContaining("npm install p@2.0.0") });
  });

  it("lets an allowed downgrade through", async () => {
    await expect(assertNoPluginDowngrade(steps, state, true)).resolves.toBeUndefined();
  });
});
