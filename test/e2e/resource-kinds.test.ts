// Issue 10: a site that asks for a resource kind its target lacks is refused at plan time,
// naming the step, the kind and the targets that realise it, before any step runs.
import { existsSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli-harness.js";
import { assertBuilt, makeComponentSite } from "../fixtures/component-site.js";

const site = (storage: string) => `name: kinds
target: recorder
plugins:
  - name: stepwise-target-recorder
    options: { kinds: [service, job, postgres, redis, secret] }   # no objectStore
  - "@stepwise/step-email"
  - "@stepwise/step-database"
  - "@stepwise/step-telemetry"
  - "@stepwise/step-storage"
config:
  email: { from: ops@example.com, smtp: { host: mail.example.com } }
  storage: { objectStore: ${storage} }
`;

describe("resource kinds a target does not realise", () => {
  beforeAll(assertBuilt);

  it("plan and deploy refuse the site with exit 2 naming step, kind and target; nothing runs", async () => {
    const dir = makeComponentSite({ yaml: site("{ provider: s3 }") });
    for (const command of [["plan"], ["deploy", "--auto-approve"]]) {
      const result = await runCli(command, { cwd: dir });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain("Step storage needs a objectStore resource, which target recorder does not realise (it realises service, job, postgres, redis, secret)");
      expect(result.stderr).toContain("no target among the site's plugins realises objectStore");
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    expect(existsSync(path.join(dir, "recorder.json"))).toBe(false);
    expect(existsSync(path.join(dir, ".stepwise/state.json"))).toBe(false);

    const json = await runCli(["plan", "--json"], { cwd: dir });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "TARGET_UNSUPPORTED", step: "storage" });
  });

  it("the same step configured not to need the kind (its own S3 endpoint) plans and deploys", async () => {
    const dir = makeComponentSite({ yaml: site("{ provider: s3, endpoint: https://s3.example.com }") });
    for (const name of ["object_store_access_key", "object_store_secret_key", "smtp_password"]) {
      const set = await runCli(["secrets", "set", name], { cwd: dir, input: `value-of-${name}-0123456789\n` });
      expect(set.code, set.stderr).toBe(0);
    }
    const deploy = await runCli(["deploy", "--auto-approve"], { cwd: dir });
    expect(deploy.code, deploy.stderr).toBe(0);
  });
});

describe("errors a target raises inside a step", () => {
  beforeAll(assertBuilt);

  it("name the target's plugin and call, and the step they happened in", async () => {
    const dir = makeComponentSite({ yaml: site("{ provider: local }").replace(/options: \{ kinds: \[[^\]]*\] \}.*\n/, "options: {}\n") });
    const failed = await runCli(["deploy", "--auto-approve"], { cwd: dir, env: { FIXTURE_RECORDER_FAIL: "postgres" } });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain("step database failed: recorder: the postgres service is down (FIXTURE_RECORDER_FAIL) [stepwise-target-recorder@1.0.0, ensure postgres postgres]");
    expect(failed.stderr).toContain("fix: a bug or an unhandled case in stepwise-target-recorder");

    const json = await runCli(["deploy", "--auto-approve", "--json"], { cwd: dir, env: { FIXTURE_RECORDER_FAIL: "postgres" } });
    const error = (JSON.parse(json.stdout) as { failed: { error: Record<string, string> }[] }).failed[0]!.error;
    expect(error).toMatchObject({ code: "PLUGIN_ERROR", plugin: "stepwise-target-recorder@1.0.0", step: "database", hook: "ensure postgres postgres" });
  });
});
