import type { JobResource, JsonValue, PortSpec, ResourceResult, ServiceResource, StepContext, StepDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import type { JobEntry, ServiceEntry, SiteFile, WorkloadEntry } from "../site/load-site.js";
import { digOutputs, referenceText, stepOfReference } from "../site/references.js";
import { resourceRecord } from "../resources/resource-record.js";

const REFERENCE = /\$\{\s*(config|outputs)\.([A-Za-z0-9_.:-]+?)\s*\}/g;

interface Reference {
  kind: "config" | "outputs";
  /** Config key, or `step.path.in.outputs`. */
  path: string;
}

/** `${config.KEY}` and `${outputs.STEP.KEY}` references in a string. */
export function parseReferences(text: string): Reference[] {
  return [...text.matchAll(REFERENCE)].map((m) => ({ kind: m[1] as Reference["kind"], path: m[2]! }));
}

/**
 * Turns a site's `services:` and `jobs:` into steps `service:NAME` and `job:NAME`. Their
 * inputs are exactly what they reference: config keys and upstream outputs in `env`, secrets
 * by name, and the files of a build context.
 */
export interface SiteDefinedStep {
  definition: StepDefinition;
  /** The step's literal definition in stepwise.yaml: part of its inputs. */
  siteInput: { key: string; value: JsonValue };
}

export function createWorkloadSteps(site: SiteFile, knownSteps: ReadonlySet<string>): SiteDefinedStep[] {
  const stepOf = (name: string): string => {
    if (name in site.services) return `service:${name}`;
    if (name in site.jobs) return `job:${name}`;
    return name;
  };
  const make = (kind: "service" | "job", name: string, entry: ServiceEntry | JobEntry): StepDefinition => {
    const stepName = `${kind}:${name}`;
    const yamlPath = [kind === "service" ? "services" : "jobs", name];
    if (!entry.image && !entry.build) {
      throw errors.siteInvalid(site.locate(yamlPath), `${kind} ${name} needs an image or a build context.`, `add image: or build: { context: ./dir } to ${kind === "service" ? "services" : "jobs"}.${name}`);
    }
    const configKeys = new Set<string>();
    const upstream = new Set<string>((entry.dependsOn ?? []).map(stepOf));
    // Every string that may hold ${config.*} / ${outputs.*}: env values, build args, ports.
    const referencing: [string[], string][] = [
      ...(entry.image ? [[["image"], entry.image] as [string[], string]] : []),
      ...Object.entries(entry.env ?? {}).map(([k, v]): [string[], string] => [["env", k], String(v)]),
      ...Object.entries(entry.build?.args ?? {}).map(([k, v]): [string[], string] => [["build", "args", k], String(v)]),
      ...("ports" in entry ? ((entry as ServiceEntry).ports ?? []) : []).map((p, i): [string[], string] => [["ports", String(i)], String(p)]),
    ];
    for (const [where, value] of referencing) {
      for (const ref of parseReferences(value)) {
        if (ref.kind === "config") configKeys.add(ref.path);
        else {
          const step = stepOfReference(ref.path, knownSteps);
          if (!step) {
            const location = site.locate([...yamlPath, ...where]);
            throw errors.outputsOfUnknownStep(`${location}: ${where.join(".")}`, `"${value}"`, location, knownSteps);
          }
          upstream.add(step);
        }
      }
    }
    upstream.delete(stepName);
    const definition: StepDefinition = {
      name: stepName,
      description: kind === "service" ? `service ${name}` : `job ${name} (runs to completion)`,
      dependsOn: [...upstream].sort(),
      resources: [kind],
      inputs: {
        config: [...configKeys].sort(),
        secrets: [...new Set(Object.values(entry.secrets ?? {}))].sort(),
        files: entry.build ? [contextGlob(entry.build.context)] : [],
      },
      run: async (ctx) => {
        const base = workloadSpec(name, entry, ctx, knownSteps);
        const spec: ServiceResource | JobResource =
          kind === "service"
            ? {
                kind: "service",
                ...base,
                ports: parsePorts(((entry as ServiceEntry).ports ?? []).map((p) => resolveReferences(String(p), ctx, knownSteps))),
                ...((entry as ServiceEntry).healthcheck ? { healthcheck: (entry as ServiceEntry).healthcheck } : {}),
                restart: (entry as ServiceEntry).restart ?? "always",
              }
            : { kind: "job", ...base, ...((entry as JobEntry).timeoutSeconds ? { timeoutSeconds: (entry as JobEntry).timeoutSeconds } : {}) };
        const result = await ctx.target.ensure(spec);
        ctx.log.info(`${result.change}: ${result.id}`);
        return { ...result.outputs, resource: resourceRecord(result) };
      },
    };
    // The target decides what drift means: a service's container gone or changed; for a job,
    // Podman reports nothing (a finished job's container may go), Azure a job resource deleted
    // or changed behind the tool's back (it is made and run again).
    definition.check = async (ctx) => {
      const resource = ctx.previousOutputs?.resource as unknown as ResourceResult | undefined;
      // A job that ran is done: with no record to probe there is nothing to say about it.
      if (!resource) return kind === "service" ? { reason: `service ${name} has no recorded resource` } : undefined;
      return ctx.target.probe({ ...resource, change: "unchanged" });
    };
    return definition;
  };
  return [
    ...Object.entries(site.services).map(([name, entry]) => ({ definition: make("service", name, entry), siteInput: { key: `services.${name}`, value: entry as unknown as JsonValue } })),
    ...Object.entries(site.jobs).map(([name, entry]) => ({ definition: make("job", name, entry), siteInput: { key: `jobs.${name}`, value: entry as unknown as JsonValue } })),
  ];
}

/** Replaces `${config.KEY}` and `${outputs.STEP.KEY}` in a string with their values. */
function resolveReferences(text: string, ctx: StepContext, knownSteps: ReadonlySet<string>): string {
  return text.replace(REFERENCE, (_match, kind: string, refPath: string) => {
    if (kind === "config") return referenceText(ctx.config.get(refPath));
    const step = stepOfReference(refPath, knownSteps)!;
    return referenceText(digOutputs(ctx.outputs(step), refPath.slice(step.length + 1)));
  });
}

function resolveAll(values: Readonly<Record<string, string | number | boolean>>, ctx: StepContext, knownSteps: ReadonlySet<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, resolveReferences(String(value), ctx, knownSteps)]));
}

function workloadSpec(name: string, entry: WorkloadEntry, ctx: StepContext, knownSteps: ReadonlySet<string>) {
  const env = resolveAll(entry.env ?? {}, ctx, knownSteps);
  const build = entry.build && {
    context: entry.build.context,
    ...(entry.build.file ? { file: entry.build.file } : {}),
    ...(entry.build.args ? { args: resolveAll(entry.build.args, ctx, knownSteps) } : {}),
    contextHash: ctx.files.digest(),
  };
  return {
    name,
    ...(entry.image ? { image: resolveReferences(entry.image, ctx, knownSteps) } : {}),
    ...(build ? { build } : {}),
    ...(entry.command ? { command: entry.command } : {}),
    env,
    secrets: { ...(entry.secrets ?? {}) },
    ...(entry.volumes ? { volumes: entry.volumes } : {}),
  };
}




export function parsePorts(ports: readonly (string | number)[]): PortSpec[] {
  return ports.map((port) => {
    const text = String(port);
    const match = /^(?:(\d+):)?(\d+)$/.exec(text);
    if (!match) throw errors.portInvalid(text);
    return match[1] ? { host: Number(match[1]), container: Number(match[2]) } : { container: Number(match[2]) };
  });
}


function contextGlob(dir: string): string {
  const trimmed = dir.replace(/^\.\//, "").replace(/\/+$/, "");
  return trimmed === "" || trimmed === "." ? "**" : `${trimmed}/**`;
}
