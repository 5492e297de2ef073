import type { JsonValue } from "../contracts.js";

/** Why a step runs (or is skipped). `--json` prints these objects as they are. */
export type PlanReason =
  | { kind: "never-run" }
  | { kind: "failed"; message: string }
  | { kind: "interrupted" }
  | { kind: "forced"; all: boolean }
  | { kind: "plugin-changed"; plugin: string; from: string | undefined; to: string }
  | { kind: "config-changed"; key: string; from?: JsonValue; to?: JsonValue }
  | { kind: "secret-changed"; name: string; from: string; to: string }
  | { kind: "file-changed"; path: string; change: "added" | "removed" | "modified" }
  /** The step's files may have changed, and which ones cannot be told: its last listing is missing or damaged. */
  | { kind: "files-unavailable" }
  | { kind: "definition-changed"; path: string }
  | { kind: "upstream-changed"; step: string }
  | { kind: "upstream-will-run"; step: string }
  | { kind: "upstream-reran-unchanged" }
  | { kind: "drift"; reason: string }
  | { kind: "check-failed"; message: string }
  | { kind: "unchanged" }
  | { kind: "disabled" };

const short = (hash: string) => (hash === "unset" ? "unset" : hash.replace(/^hmac-sha256:/, "").slice(0, 8));
const show = (value: JsonValue | undefined) => (value === undefined ? "(unset)" : JSON.stringify(value));

/** One line a person reads: `config database.name: "avatar" -> "avatar2"`. */
export function formatReason(reason: PlanReason): string {
  switch (reason.kind) {
    case "never-run":
      return "never run";
    case "failed":
      return `failed last run: ${reason.message.split("\n")[0]}`;
    case "interrupted":
      return "interrupted during last run";
    case "forced":
      return reason.all ? "forced (--force-all)" : "forced (--force-step)";
    case "plugin-changed":
      return reason.from ? `plugin ${reason.plugin} ${reason.from} -> ${reason.to}` : `plugin ${reason.plugin} ${reason.to} is new`;
    case "config-changed":
      return `config ${reason.key}: ${show(reason.from)} -> ${show(reason.to)}`;
    case "secret-changed":
      // Hashes only, never values.
      return `secret ${reason.name} changed (${short(reason.from)} -> ${short(reason.to)})`;
    case "file-changed":
      return `file ${reason.path} ${reason.change}`;
    case "files-unavailable":
      return "files changed? the recorded file listing is unavailable";
    case "definition-changed":
      return `${reason.path} changed in stepwise.yaml`;
    case "upstream-changed":
      return `upstream ${reason.step} changed`;
    case "upstream-will-run":
      return `upstream ${reason.step} will run`;
    case "upstream-reran-unchanged":
      return "upstream re-ran, outputs unchanged";
    case "drift":
      return `drift: ${reason.reason}`;
    case "check-failed":
      return `drift check failed: ${reason.message}`;
    case "unchanged":
      return "unchanged";
    case "disabled":
      return "disabled in stepwise.yaml (optional step)";
  }
}

/** Reasons for display, with long runs of file changes folded into a count. */
export function summarizeReasons(reasons: readonly PlanReason[], maxFiles = 3): string[] {
  const files = reasons.filter((r) => r.kind === "file-changed");
  const lines = reasons.filter((r) => r.kind !== "file-changed").map(formatReason);
  lines.push(...files.slice(0, maxFiles).map(formatReason));
  if (files.length > maxFiles) lines.push(`${files.length - maxFiles} more files changed`);
  return lines;
}
