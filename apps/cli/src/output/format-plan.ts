import { formatReason, formatRemovalReason, formatVolumeAction, summarizeReasons, type Plan } from "@stepwise/core/engine";

/** The plan as a person reads it: one line per step, one per removal (with its volumes), then a summary. */
export function formatPlan(plan: Plan, options: { verbose?: boolean } = {}): string {
  const width = Math.max(4, ...plan.steps.map((s) => s.name.length), ...plan.disabled.map((s) => s.name.length), ...plan.removals.map((r) => r.name.length));
  const lines: string[] = [];
  const row = (action: string, name: string, [first, ...rest]: readonly string[]) => {
    lines.push(`  ${action.padEnd(6)} ${name.padEnd(width)}  ${first ?? ""}`.trimEnd());
    for (const more of rest) lines.push(`  ${"".padEnd(6)} ${"".padEnd(width)}  ${more}`);
  };
  for (const step of plan.steps) row(step.action, step.name, options.verbose ? step.reasons.map(formatReason) : summarizeReasons(step.reasons));
  for (const removal of plan.removals) row("remove", removal.name, [formatRemovalReason(removal.reason), ...removal.volumes.map(formatVolumeAction)]);
  for (const step of plan.disabled) row("off", step.name, ["disabled in stepwise.yaml (optional step)"]);
  lines.push(summaryLine(plan));
  return lines.join("\n");
}

export function summaryLine(plan: Plan): string {
  const parts = [`${plan.toRun} to run`];
  if (plan.toRemove) parts.push(`${plan.toRemove} to remove`);
  parts.push(`${plan.unchanged} unchanged`);
  if (plan.disabled.length) parts.push(`${plan.disabled.length} disabled`);
  return parts.join(", ");
}

/**
 * `plan --json`: `{ steps: [{ name, action, reasons: [{ kind, ..., message }] }], removals:
 * [{ name, action: "remove", reason: { kind, ..., message }, resources, volumes }], toRun,
 * toRemove, unchanged, disabled }`.
 */
export function planToJson(plan: Plan) {
  return {
    steps: plan.steps.map((s) => ({
      name: s.name,
      plugin: s.plugin,
      action: s.action,
      reasons: s.reasons.map((r) => ({ ...r, message: formatReason(r) })),
      fingerprint: s.fingerprint,
    })),
    removals: plan.removals.map((r) => ({
      name: r.name,
      ...(r.plugin ? { plugin: r.plugin } : {}),
      action: "remove",
      reason: { ...r.reason, message: formatRemovalReason(r.reason) },
      stateRecord: r.record,
      resources: r.resources.map((ref) => ({ kind: ref.kind, name: ref.name, id: ref.id })),
      volumes: r.volumes.map((v) => ({ ...v, message: formatVolumeAction(v) })),
    })),
    disabled: plan.disabled.map((s) => ({ name: s.name, plugin: s.plugin, action: "disabled", reasons: [{ kind: "disabled", message: "disabled in stepwise.yaml (optional step)" }] })),
    toRun: plan.toRun,
    toRemove: plan.toRemove,
    unchanged: plan.unchanged,
  };
}
