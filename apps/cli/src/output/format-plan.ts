import { formatReason, summarizeReasons, type Plan } from "@stepwise/core";

/** The plan as a person reads it: one line per step, then a summary. */
export function formatPlan(plan: Plan, options: { verbose?: boolean } = {}): string {
  const width = Math.max(4, ...plan.steps.map((s) => s.name.length), ...plan.disabled.map((s) => s.name.length));
  const lines: string[] = [];
  for (const step of plan.steps) {
    const reasons = options.verbose ? step.reasons.map(formatReason) : summarizeReasons(step.reasons);
    const [first, ...rest] = reasons;
    lines.push(`  ${step.action.padEnd(5)} ${step.name.padEnd(width)}  ${first ?? ""}`.trimEnd());
    for (const more of rest) lines.push(`  ${"".padEnd(5)} ${"".padEnd(width)}  ${more}`);
  }
  for (const step of plan.disabled) lines.push(`  ${"off".padEnd(5)} ${step.name.padEnd(width)}  disabled in stepwise.yaml (optional step)`);
  lines.push(summaryLine(plan));
  return lines.join("\n");
}

export function summaryLine(plan: Plan): string {
  const parts = [`${plan.toRun} to run`, `${plan.unchanged} unchanged`];
  if (plan.disabled.length) parts.push(`${plan.disabled.length} disabled`);
  return parts.join(", ");
}

/** `plan --json`: `{ steps: [{ name, action, reasons: [{ kind, ..., message }] }], toRun, unchanged, disabled }`. */
export function planToJson(plan: Plan) {
  return {
    steps: plan.steps.map((s) => ({
      name: s.name,
      plugin: s.plugin,
      action: s.action,
      reasons: s.reasons.map((r) => ({ ...r, message: formatReason(r) })),
      fingerprint: s.fingerprint,
    })),
    disabled: plan.disabled.map((s) => ({ name: s.name, plugin: s.plugin, action: "disabled", reasons: [{ kind: "disabled", message: "disabled in stepwise.yaml (optional step)" }] })),
    toRun: plan.toRun,
    unchanged: plan.unchanged,
  };
}
