// @ts-check
// A target plugin for engine-level tests: it realises nothing, records every resource spec a step
// asks for in the site's recorded-resources.json, and reads each secret a spec names through the
// calling step's scope, which throws when the step did not declare that secret.
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import path from "node:path";

/** @param {import("@stepwise/core").ResourceSpec} spec */
function secretNames(spec) {
  switch (spec.kind) {
    case "postgres":
      return [spec.passwordSecret];
    case "redis":
      return spec.passwordSecret ? [spec.passwordSecret] : [];
    case "objectStore":
      return [spec.accessKeySecret, spec.secretKeySecret];
    case "service":
    case "job":
      return Object.values(spec.secrets ?? {});
    default:
      return [spec.name];
  }
}

/** @type {Record<string, import("@stepwise/core").JsonObject>} */
const OUTPUTS = {
  postgres: { host: "demo-postgres", port: 5432 },
  redis: { host: "demo-redis", port: 6379 },
  objectStore: { endpoint: "http://demo-objectstore:9000" },
};

/** @type {import("@stepwise/core").PluginDefinition} */
export default {
  meta: { name: "stepwise-target-recording", version: "1.0.0" },
  targets: [
    {
      name: "recording",
      description: "records resource specs instead of realising them",
      async connect(ctx) {
        return {
          async ensure(spec, scope) {
            const secrets = Object.fromEntries(secretNames(spec).map((name) => [name, scope.secrets.get(name) !== undefined]));
            appendFileSync(path.join(ctx.site.dir, "recorded-resources.json"), JSON.stringify({ step: scope.step, spec, secrets }) + "\n");
            const specHash = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
            return { kind: spec.kind, name: spec.name, id: `demo-${spec.name}`, specHash, change: "created", outputs: OUTPUTS[spec.kind] ?? {} };
          },
          async probe() {
            return undefined;
          },
        };
      },
    },
  ],
};
