import { describe, expect, it } from "vitest";
import { buildStepGraph, downstreamOf } from "./step-graph.js";

describe("step graph", () => {
  it("orders dependencies first, ties by name, and finds dependants", () => {
    const graph = buildStepGraph([
      { name: "web", dependsOn: ["database", "email"] },
      { name: "email", dependsOn: [] },
      { name: "database", dependsOn: ["network"] },
      { name: "network", dependsOn: [] },
    ]);
    expect(graph.order).toEqual(["email", "network", "database", "web"]);
    expect([...downstreamOf(graph, ["network"])].sort()).toEqual(["database", "web"]);
  });

  it("names an unknown dependency and who referenced it", () => {
    expect(() => buildStepGraph([{ name: "web", dependsOn: ["databse"] }, { name: "database", dependsOn: [] }])).toThrow(
      expect.objectContaining({ code: "STEP_UNKNOWN", message: 'Unknown step "databse" (referenced by web).', hint: expect.stringContaining('"database"') }),
    );
  });

  it("names the steps of a cycle in order", () => {
    expect(() =>
      buildStepGraph([
        { name: "a", dependsOn: ["c"] },
        { name: "b", dependsOn: ["a"] },
        { name: "c", dependsOn: ["b"] },
        { name: "d", dependsOn: [] },
      ]),
    ).toThrow(expect.objectContaining({ code: "STEP_CYCLE", message: expect.stringMatching(/a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c/) }));
  });
});
