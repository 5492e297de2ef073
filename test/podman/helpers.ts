import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHmac } from "node:crypto";
import type { JsonValue, StepLogger, TargetCallScope, TargetSession } from "@stepwise/core/engine";
import { podmanTarget } from "../../packages/target-podman/src/index.js";
import { OFFLINE_IMAGES, containersConf, podmanHarness } from "./podman-harness.js";

const run = promisify(execFile);

/** A logger that keeps every line, so tests can assert what was (not) logged. */
export function testLogger(): StepLogger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, info: push("info"), warn: push("warn"), debug: push("debug"), progress: push("progress") };
}

/** A hand-made call scope: secrets from a map, fingerprints as HMACs, a fresh AbortSignal. */
export function testScope(secrets: Record<string, string>, step = "test"): TargetCallScope & { log: ReturnType<typeof testLogger>; controller: AbortController } {
  const controller = new AbortController();
  return {
    step,
    secrets: {
      get: (name) => secrets[name],
      fingerprint: (name) => (secrets[name] === undefined ? undefined : createHmac("sha256", "test-key").update(secrets[name]!).digest("hex")),
    },
    signal: controller.signal,
    log: testLogger(),
    controller,
  };
}

/** Connects the podman target for `site` to the harness's service, with the offline images. */
export async function openSession(site: string, secrets: Record<string, string> = {}, socket?: string): Promise<{ session: Required<TargetSession>; socketPath: string }> {
  const socketPath = socket ?? (await podmanHarness()).socketPath;
  const config: Record<string, JsonValue> = {
    "podman.socket": socketPath,
    "podman.helperImage": OFFLINE_IMAGES.helper,
    "podman.postgresImage": "localhost/stepwise/postgres:{version}",
    "podman.redisImage": OFFLINE_IMAGES.redis,
  };
  const session = await podmanTarget.connect({
    site: { name: site, dir: process.cwd(), preset: "airgapped" },
    config: { get: <T extends JsonValue>(key: string) => config[key] as T | undefined },
    secrets: { get: (n) => secrets[n], fingerprint: () => undefined },
    log: testLogger(),
    signal: new AbortController().signal,
  });
  return { session: session as Required<TargetSession>, socketPath };
}

/** `podman ...` with the harness's containers.conf; resolves to stdout. */
export async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run("podman", args, { env: { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? containersConf }, maxBuffer: 32 << 20 });
  return stdout;
}

/** `podman inspect` of a container as parsed JSON. */
export async function inspect(container: string): Promise<{ Id: string; State: { StartedAt: string; Running: boolean; Status: string }; Config: { Env: string[]; Cmd: string[] | null; Entrypoint: string | string[] | null; Labels: Record<string, string> }; Args?: string[] }> {
  return JSON.parse(await podman("container", "inspect", container))[0];
}

/** A tiny HTTP server for the node image: /healthz, /env/NAME (presence only), stops on SIGTERM. */
export const WEB_APP = [
  "node",
  "-e",
  `const http=require('http');const s=http.createServer((q,r)=>{if(q.url==='/healthz'){r.end('ok');return}` +
    `const m=/^\\/has\\/(\\w+)$/.exec(q.url);if(m){r.end(process.env[m[1]]?'yes':'no');return}r.end(process.env.GREETING||'hi')});` +
    `s.listen(8080);process.on('SIGTERM',()=>s.close(()=>process.exit(0)));`,
];
