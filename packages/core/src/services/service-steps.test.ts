import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseSite } from "../site/load-site.js";
import { createWorkloadSteps, parsePorts, parseReferences } from "./service-steps.js";

const site = (text: string) => parseSite(text, path.join(os.tmpdir(), "stepwise.yaml"));

describe("services and jobs as steps", () => {
  const demo = site(`name: demo
plugins: []
services:
  web:
    build: { context: ./app, args: { BASE: "\${config.demo.base}" } }
    env:
      DB_HOST: \${outputs.database.host}
      TITLE: "Hello \${config.demo.title}!"
    secrets: { PGPASSWORD: db_password }
    ports: ["\${config.demo.port}:3000"]
    dependsOn: [migrate]
jobs:
  migrate:
    image: "registry.local/app:\${config.demo.tag}"
    env: { DB: "\${outputs.database.database}" }
    secrets: { PGPASSWORD: db_password }
`);

  it("declares exactly what a workload references as its inputs", () => {
    const created = createWorkloadSteps(demo, new Set(["database", "podman:network", "service:web", "job:migrate"]));
    expect(created.map((c) => c.siteInput.key)).toEqual(["services.web", "jobs.migrate"]);
    const steps = created.map((c) => c.definition);
    const web = steps.find((s) => s.name === "service:web")!;
    expect(web.dependsOn).toEqual(["database", "job:migrate"]);
    expect(web.inputs).toEqual({ config: ["demo.base", "demo.port", "demo.title"], secrets: ["db_password"], files: ["app/**"] });
    expect(typeof web.check).toBe("function");
    const migrate = steps.find((s) => s.name === "job:migrate")!;
    expect(migrate.dependsOn).toEqual(["database"]);
    expect(migrate.inputs).toEqual({ config: ["demo.tag"], secrets: ["db_password"], files: [] });
    // The target decides whether a job's resource drifted (Podman: never; Azure: the job is gone or changed).
    expect(typeof migrate.check).toBe("function");
  });

  it("names the file and line of a reference to an unknown step", () => {
    expect(() => createWorkloadSteps(demo, new Set(["service:web", "job:migrate"]))).toThrow(
      expect.objectContaining({ code: "STEP_UNKNOWN", message: expect.stringMatching(/stepwise\.yaml:\d+: env\.DB_HOST references outputs of an unknown step/) }),
    );
  });

  it("parses references and ports", () => {
    expect(parseReferences("a ${config.x.y} b ${outputs.db.host}")).toEqual([
      { kind: "config", path: "x.y" },
      { kind: "outputs", path: "db.host" },
    ]);
    expect(parsePorts(["8080:3000", 5432, "9000"])).toEqual([{ host: 8080, container: 3000 }, { container: 5432 }, { container: 9000 }]);
    expect(() => parsePorts(["80:http"])).toThrow(/HOST:CONTAINER/);
  });
});
