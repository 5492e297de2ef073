/**
 * A temp site deployed with `target: azure` through the BUILT CLI as a child process, against the
 * harness's local Resource Manager (its own subscription per site, so test files never meet).
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli, startCli, type CliResult } from "../e2e/cli-harness.js";
import { repoRoot } from "../fixtures/component-site.js";
import { ArmControl, armHarness, cliAzureEnv } from "./harness.js";
import type { ChildProcess } from "node:child_process";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const FOUNDATION = ["azure:prerequisites", "azure:resource-group", "azure:monitoring", "azure:registry", "azure:key-vault", "azure:container-apps-environment", "azure:identity", "azure:role-assignments"] as const;

export interface AzureSite {
  dir: string;
  name: string;
  control: ArmControl;
  cli(args: readonly string[], options?: { input?: string; env?: Record<string, string> }): Promise<CliResult>;
  start(args: readonly string[]): ChildProcess;
  yaml(extraConfig?: string): void;
  /** The site's azure.verify block (default: probes go to the harness's front door, which answers 200). */
  verify: string;
  /** The state file as parsed JSON. */
  state(): { steps: Record<string, { status: string; outputs?: Record<string, unknown>; error?: { code: string; message: string } }> };
}

/** Plugins a site may add to the target and the vault-secrets fixture: name -> package directory. */
const EXTRA_PLUGINS: Record<string, string> = { "@stepwise/step-database": "packages/step-database" };

export async function makeAzureSite(name: string, extraConfig = "", plugins: readonly (keyof typeof EXTRA_PLUGINS)[] = []): Promise<AzureSite> {
  const env = await armHarness();
  const control = new ArmControl(env);
  await control.createSubscription();
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-azure-"));
  mkdirSync(path.join(dir, "node_modules", "@stepwise"), { recursive: true });
  symlinkSync(path.join(repoRoot, "packages/target-azure"), path.join(dir, "node_modules/@stepwise/target-azure"), "dir");
  symlinkSync(path.join(repoRoot, "test/azure/fixtures/stepwise-plugin-vault-secrets"), path.join(dir, "node_modules/stepwise-plugin-vault-secrets"), "dir");
  for (const plugin of plugins) symlinkSync(path.join(repoRoot, EXTRA_PLUGINS[plugin]!), path.join(dir, "node_modules", plugin), "dir");
  // Images are built on the tests' Podman service (scripts/test.sh starts it) when there is one.
  const podman = process.env.STEPWISE_TEST_PODMAN_SOCKET;
  const childEnv = { ...cliAzureEnv(env), STEPWISE_AZURE_ARM_ENDPOINT: env.armUrl, ...(podman ? { STEPWISE_PODMAN_SOCKET: podman, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? "" } : {}) };
  const site: AzureSite = {
    dir,
    name,
    control,
    cli: (args, options = {}) => runCli([...args, "-C", dir], { cwd: dir, input: options.input, env: { ...childEnv, ...options.env } }),
    start: (args) => startCli([...args, "-C", dir], { cwd: dir, env: childEnv }),
    yaml(extra = extraConfig) {
      writeFileSync(
        path.join(dir, "stepwise.yaml"),
        `name: ${name}
plugins:
  - "@stepwise/target-azure"
  - stepwise-plugin-vault-secrets
${plugins.map((p) => `  - "${p}"\n`).join("")}target: azure
config:
  azure:
    subscription: ${control.subscription}
    tenantId: ${TENANT}
    location: westeurope
${site.verify}${extra}`,
      );
    },
    verify: `    verify:\n      connectTo: "${env.apps}"\n`,
    state: () => JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8")),
  };
  site.yaml();
  return site;
}

/** A new site with `siteYaml` (its services and jobs) appended to its config, deployed once; a failed deploy throws with the CLI's output. */
export async function deployedAzureSite(name: string, siteYaml: string): Promise<AzureSite> {
  const site = await makeAzureSite(name);
  site.yaml(siteYaml);
  const deploy = await site.cli(["deploy", "--auto-approve"]);
  if (deploy.code !== 0) throw new Error(`the first deploy of site ${name} exited ${deploy.code}:\n${deploy.stderr}${deploy.stdout}`);
  return site;
}
