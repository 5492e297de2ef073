import { forgetPlanMemo, offerPlanMemo, pendingChanges, planSite, vetoPlanMemo, type PlanOptions } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { formatPlan, planToJson } from "../output/format-plan.js";
import { createReporter } from "../output/reporter.js";
import { jsonText, openSession } from "./open-session.js";

export interface PlanFlags {
  forceStep: string[];
  forceAll?: boolean;
  resetState?: boolean;
  refresh: boolean;
  concurrency: number;
  expectNoChanges?: boolean;
  pruneVolumes?: boolean;
  allowPluginDowngrade?: boolean;
}

/** The engine's plan options from the flags `plan` and `deploy` share. */
export function planOptionsOf(flags: PlanFlags): PlanOptions {
  return {
    forceSteps: flags.forceStep,
    forceAll: flags.forceAll,
    resetState: flags.resetState,
    refresh: flags.refresh,
    concurrency: flags.concurrency,
    pruneVolumes: flags.pruneVolumes,
    allowPluginDowngrade: flags.allowPluginDowngrade,
  };
}

export async function planCommand(globals: GlobalOptions, flags: PlanFlags): Promise<void> {
  const reporter = await createReporter({ json: globals.json, verbose: globals.verbose, live: false });
  const session = await openSession(globals, (event) => {
    if (event.type === "warning" || (event.type === "log" && globals.verbose)) {
      vetoPlanMemo(`it printed a ${event.type}`); // a replay prints stdout only
      reporter.onEvent(event);
    }
  });
  try {
    const plan = await planSite(session, planOptionsOf(flags));
    const text = globals.json ? jsonText(session, planToJson(plan)) : `${session.redactor.redact(formatPlan(plan, globals))}\n`;
    process.stdout.write(text);
    const noop = plan.toRun === 0 && plan.toRemove === 0;
    // A plan with nothing to do is kept for the next one to replay, if nothing else happens
    // before the command ends (see docs/design.md, "No-op plan memo"; main.ts settles it).
    if (noop) offerPlanMemo(session.site.dir, text);
    else forgetPlanMemo(session.site.dir);
    if (flags.expectNoChanges && !noop) {
      process.stderr.write(`error: --expect-no-changes: ${pendingChanges(plan)}\n`);
      process.exitCode = 1;
    }
  } finally {
    await session.close();
  }
}
