import { PassThrough, type Readable } from "node:stream";
import type { ArmClient, ArmResource } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import { logsLocation, newestExecution } from "./job.js";
import { Tag } from "./naming.js";
import type { AzureSettings } from "./settings.js";

const APP = "Microsoft.App/containerApps";
const JOB = "Microsoft.App/jobs";
const REPLICAS = "Microsoft.App/containerApps/revisions/replicas";
/**
 * The most lines of history `az containerapp logs show --tail` asks the log stream for (0-300; az's
 * own default is 20): stepwise's default, since Podman's `logs` shows all by default.
 */
export const MAX_TAIL = 300;

interface Context {
  arm: ArmClient;
  settings: AzureSettings;
}

/**
 * The console log of the container of `service`'s Container App, as `az containerapp logs show`
 * reads it: the app's latest ready revision and its (first running) replica are found through
 * Resource Manager (a GET of the app, a list of the revision's replicas), the app's log-stream
 * token is asked for (`POST .../getAuthtoken`, an action that changes nothing), and the stream is
 * read from the app's `eventStreamEndpoint` host at
 * `/subscriptions/{s}/resourceGroups/{g}/containerApps/{app}/revisions/{r}/replicas/{replica}/containers/{c}/logstream`
 * with that token as bearer. The token is a credential: it goes only into that request's header.
 * `tail` above 300 gets 300 lines. With `follow` the returned stream stays open until the server
 * ends it or `signal` aborts (then it ends cleanly). Jobs are not streamed (an execution is usually
 * over when asked): the error says where their logs are (Log Analytics).
 */
export async function streamServiceLogs(ctx: Context, service: string, options: { follow: boolean; tail?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
  const { arm, settings } = ctx;
  const { signal } = options;
  const group = settings.names.resourceGroup;
  const name = settings.names.containerApp(service);
  const own = (resource: ArmResource | undefined): resource is ArmResource => resource?.tags?.[Tag.Site] === settings.names.site;
  const appId = resourceId(settings, "Microsoft.App", "containerApps", name);
  const app = await arm.get(appId, APP, signal);
  if (!own(app)) throw await notAnApp(ctx, service, name, signal);

  const properties = (app.properties ?? {}) as { latestReadyRevisionName?: string; provisioningState?: string; eventStreamEndpoint?: string; template?: { containers?: { name?: string }[] } };
  const revision = properties.latestReadyRevisionName;
  if (!revision) {
    throw azureErrors.logsNotReady(service, name, `has no ready revision (provisioningState ${properties.provisioningState ?? "unknown"})`, "stepwise deploy   (then stepwise logs again)");
  }
  const endpoint = properties.eventStreamEndpoint ?? "";
  const cut = endpoint.indexOf("/subscriptions/");
  if (cut < 0) throw azureErrors.logsNotReady(service, name, "names no eventStreamEndpoint", "stepwise deploy   (then stepwise logs again)");

  const replicas = await arm.list(`${appId}/revisions/${revision}/replicas`, REPLICAS, signal);
  const replica = replicas.find((r) => r.properties?.runningState === "Running") ?? replicas[0];
  if (!replica?.name) throw azureErrors.logsNotReady(service, name, `has no replica of revision ${revision} running`, `stepwise status   (a stopped app: stepwise restart ${service})`);
  const container = (replica.properties?.containers as { name?: string }[] | undefined)?.[0]?.name ?? properties.template?.containers?.[0]?.name ?? name;

  const auth = await arm.action(appId, APP, "getAuthtoken", signal);
  const token = (auth.properties as { token?: unknown } | undefined)?.token;
  if (typeof token !== "string" || !token) throw azureErrors.logsNotReady(service, name, "answered getAuthtoken without a token", `az containerapp logs show --name ${name} --resource-group ${group}`);

  // A larger --tail gets 300 lines: `az containerapp logs show` refuses more than the stream's 300.
  const tail = Math.min(options.tail ?? MAX_TAIL, MAX_TAIL);
  const path = ["subscriptions", arm.subscription, "resourceGroups", group, "containerApps", name, "revisions", revision, "replicas", replica.name, "containers", container].map(encodeURIComponent).join("/");
  const query = new URLSearchParams({ tailLines: String(tail), follow: String(options.follow), output: "text" });
  const url = `${endpoint.slice(0, cut)}/${path}/logstream?${query.toString()}`;

  let answer: Awaited<ReturnType<ArmClient["streamGet"]>>;
  try {
    answer = await arm.streamGet(url, { headers: { authorization: `Bearer ${token}` }, signal });
  } catch (error) {
    if (signal.aborted) return ended();
    // The stream host is not Resource Manager: name it, not azure.armEndpoint.
    throw azureErrors.logStreamFailed(service, name, 0, `${new URL(url).host} did not answer: ${error instanceof Error ? error.message : String(error)}`.replaceAll(token, "***"), group);
  }
  if (!answer.body) throw azureErrors.logStreamFailed(service, name, answer.status, answer.text.replaceAll(token, "***").trim().slice(0, 300), group);
  return untilAborted(answer.body as Readable, signal, (error) => azureErrors.logStreamFailed(service, name, 200, `the stream broke: ${error.message}`, group));
}

/** Why `service` has no app of the site: it is one of the site's jobs (whose logs are in Log Analytics), or no app has its name. */
async function notAnApp({ arm, settings }: Context, service: string, name: string, signal: AbortSignal): Promise<Error> {
  const jobId = resourceId(settings, "Microsoft.App", "jobs", name);
  const job = await arm.get(jobId, JOB, signal);
  if (job?.tags?.[Tag.Site] === settings.names.site) {
    // Executions are named `<job>-<suffix>`: the newest one's, or all of the job's when it never ran.
    const execution = await newestExecution({ arm }, jobId, signal);
    return azureErrors.jobLogs(service, logsLocation(settings, execution?.name ?? `${name}-`));
  }
  const apps = (await arm.listInGroup(settings.names.resourceGroup, APP, signal)).filter((r) => r.tags?.[Tag.Site] === settings.names.site);
  return azureErrors.serviceNotFound(service, settings.names.site, apps.map((r) => r.tags?.[Tag.Resource] ?? String(r.name)).sort(), `stepwise status   (lists the site's services; one not deployed yet: stepwise deploy)`);
}

/** `upstream` as a stream that ends cleanly when `signal` aborts; a broken connection otherwise is the error `broken` makes. */
function untilAborted(upstream: Readable, signal: AbortSignal, broken: (error: Error) => Error): NodeJS.ReadableStream {
  const out = new PassThrough();
  const finish = () => {
    upstream.destroy();
    if (!out.writableEnded) out.end();
  };
  signal.addEventListener("abort", finish, { once: true });
  out.once("close", () => {
    signal.removeEventListener("abort", finish);
    // The reader went away (destroyed its end): close the connection too.
    upstream.destroy();
  });
  upstream.on("error", (error) => (signal.aborted ? finish() : out.destroy(broken(error))));
  upstream.pipe(out);
  if (signal.aborted) finish();
  return out;
}

function ended(): NodeJS.ReadableStream {
  const out = new PassThrough();
  out.end();
  return out;
}
