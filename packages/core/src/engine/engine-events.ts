import type { StepwiseError } from "../errors/stepwise-error.js";
import type { Plan } from "../plan/compute-plan.js";
import type { PlanReason } from "../plan/plan-reasons.js";
import type { RemovalReason } from "../plan/orphans.js";

/** What the engine reports while it works; the CLI renders these (live in a TTY, lines otherwise). */
export type EngineEvent =
  | { type: "plan"; plan: Plan }
  | { type: "step-start"; step: string; reasons: PlanReason[] }
  | { type: "step-skip"; step: string; reasons: PlanReason[] }
  | { type: "step-done"; step: string; durationMs: number }
  | { type: "step-failed"; step: string; error: StepwiseError; durationMs: number }
  | { type: "step-blocked"; step: string; by: string }
  | { type: "remove-start"; step: string; reason: RemovalReason }
  | { type: "remove-done"; step: string; removed: string[]; kept: string[]; durationMs: number }
  | { type: "remove-failed"; step: string; error: StepwiseError; durationMs: number }
  | { type: "log"; step: string; level: "info" | "warn" | "debug" | "progress"; message: string }
  | { type: "warning"; message: string };
