import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

export async function pluginsListCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const rows = session.plugins.map((plugin) => ({
    name: plugin.name,
    version: plugin.version,
    root: plugin.root,
    core: plugin.coreRange ?? null,
    steps: (plugin.definition.steps ?? []).map((s) => s.name),
    targets: (plugin.definition.targets ?? []).map((t) => t.name),
    stateBackends: Object.keys(plugin.definition.stateBackends ?? {}),
    secretBackends: Object.keys(plugin.definition.secretBackends ?? {}),
  }));
  if (globals.json) {
    printJson(session, { plugins: rows });
    return;
  }
  if (rows.length === 0) {
    process.stdout.write("No plugins listed in stepwise.yaml.\n");
    return;
  }
  const lines = rows.map((r) => {
    const provides = [
      r.steps.length ? `steps: ${r.steps.join(", ")}` : "",
      r.targets.length ? `targets: ${r.targets.join(", ")}` : "",
      r.stateBackends.length ? `state: ${r.stateBackends.join(", ")}` : "",
      r.secretBackends.length ? `secrets: ${r.secretBackends.join(", ")}` : "",
    ].filter(Boolean);
    return `${r.name}@${r.version}  (core ${r.core})\n  ${r.root}\n  ${provides.join("; ") || "provides nothing"}`;
  });
  process.stdout.write(`${lines.join("\n")}\n`);
}
