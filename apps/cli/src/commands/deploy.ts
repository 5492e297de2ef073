import { ErrorCode, ExitCode, deploySite, forgetPlanMemo, planSite, type DeployResult, type Plan } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { formatPlan, planToJson } from "../output/format-plan.js";
import { createReporter, isLiveTerminal, type Reporter } from "../output/reporter.js";
import { promptApproval } from "./confirm-destruction.js";
import { openSession, printJson } from "./open-session.js";
import { planOptionsOf, type PlanFlags } from "./plan.js";

export interface DeployFlags extends PlanFlags {
  dryRun?: boolean;
  autoApprove?: boolean;
}

export async function deployCommand(globals: GlobalOptions, flags: DeployFlags): Promise<void> {
  const live = !globals.json && isLiveTerminal();
  let reporter: Reporter | undefined;
  const session = await openSession(globals, (event) => reporter?.onEvent(event));
  // A deploy changes the state a kept no-op plan names: that memo can only cost the next plan time.
  if (!flags.dryRun) forgetPlanMemo(session.site.dir);
  const planOptions = planOptionsOf(flags);
  // Removals need a yes: --auto-approve, or a person who saw them in the preview below.
  let approveRemovals: boolean | string[] = flags.autoApprove === true;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`\n${signal} again: exiting now; the next deploy resumes from the steps that did not finish.\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: stopping running steps and saving state (press Ctrl-C again to exit at once)\n`);
    session.interrupt(`received ${signal}`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    if (live && !flags.autoApprove && !flags.dryRun && process.stdin.isTTY) {
      const preview = await planSite(session, planOptions);
      if (preview.toRun === 0 && preview.toRemove === 0 && !flags.expectNoChanges) {
        process.stdout.write(`${formatPlan(preview, globals)}\nNothing to do.\n`);
        return;
      }
      process.stdout.write(`${formatPlan(preview, globals)}\n`);
      if ((await promptApproval(confirmQuestion(preview))) !== "yes") {
        process.stdout.write("Nothing was changed.\n");
        return;
      }
      approveRemovals = preview.removals.map((r) => r.name);
      reporter = await createReporter({ json: globals.json, verbose: globals.verbose, live, printPlan: false });
    }
    reporter ??= await createReporter({ json: globals.json, verbose: globals.verbose, live });
    const result = await deploySite(session, { ...planOptions, dryRun: flags.dryRun, expectNoChanges: flags.expectNoChanges, approveRemovals });
    await reporter.close();
    report(result, globals, session);
    process.exitCode = deployExitCode(result);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await reporter?.close();
    await session.close();
  }
}

/** `Run 2 steps and remove service:worker (deleting volume x and its data)?` */
function confirmQuestion(plan: Plan): string {
  const parts: string[] = [];
  if (plan.toRun > 0) parts.push(`run ${plan.toRun} step${plan.toRun === 1 ? "" : "s"}`);
  if (plan.toRemove > 0) {
    const deleted = plan.removals.flatMap((r) => r.volumes.filter((v) => v.action === "delete").map((v) => v.name));
    parts.push(`remove ${plan.removals.map((r) => r.name).join(", ")}${deleted.length ? ` (deleting volume ${deleted.join(", ")} and its data)` : ""}`);
  }
  const text = parts.join(" and ") || "deploy";
  return `${text[0]!.toUpperCase()}${text.slice(1)}?`;
}

/**
 * 0 ok, 130 interrupted; a failure is 1 (a step failed) unless every failed step failed on
 * bad input or a host that cannot run it (its error's exit code 2: a missing secret, a host
 * without the tools containers need), which no retry of the step fixes.
 */
export function deployExitCode(result: Pick<DeployResult, "status" | "failed">): number {
  if (result.status === "interrupted") return ExitCode.Interrupted;
  if (result.status !== "failed") return ExitCode.Ok;
  return result.failed.length > 0 && result.failed.every((f) => f.error.exitCode === ExitCode.BadInput) ? ExitCode.BadInput : ExitCode.StepFailed;
}

function report(result: DeployResult, globals: GlobalOptions, session: import("@stepwise/core/engine").SiteSession): void {
  if (globals.json) {
    printJson(session, {
      status: result.status,
      plan: planToJson(result.plan),
      ran: result.ran,
      skipped: result.skipped,
      failed: result.failed.map((f) => ({ step: f.step, error: f.error.toJSON() })),
      notRun: result.notRun,
      removed: result.removed,
    });
    return;
  }
  const out = (line: string) => process.stdout.write(`${session.redactor.redact(line)}\n`);
  switch (result.status) {
    case "dry-run":
      out(`Dry run: nothing was changed. ${result.plan.toRun} step${result.plan.toRun === 1 ? "" : "s"} would run${result.plan.toRemove ? `, ${result.plan.toRemove} would be removed` : ""}.`);
      break;
    case "ok":
      if (result.ran.length === 0 && result.removed.length === 0) out(`Nothing to do: all ${result.skipped.length} steps unchanged.`);
      else out(`Deployed: ${result.ran.length} ran, ${result.removed.length ? `${result.removed.length} removed, ` : ""}${result.skipped.length} unchanged.`);
      break;
    case "failed":
      for (const { step, error } of result.failed) {
        const redact = (text: string) => session.redactor.redact(text);
        // A plugin's own error names plugin and hook in its message already.
        const by = error.plugin && error.code !== ErrorCode.PluginError ? ` [${error.plugin}${error.hook ? `, ${error.hook}` : ""}]` : "";
        const what = error.exitCode === ExitCode.BadInput ? `${redact(error.message)} (while running step ${step}${by})` : `step ${step} failed${by}: ${redact(error.message)}`;
        process.stderr.write(`error: ${what}\n`);
        if (error.hint) process.stderr.write(`  fix: ${redact(error.hint)}\n`);
        if (globals.verbose && error.pluginStack) process.stderr.write(`${redact(error.pluginStack).replace(/^/gm, "  ")}\n`);
      }
      out(`${result.ran.length} ran, ${result.failed.length} failed${result.notRun.length ? `, ${result.notRun.length} not run (${result.notRun.join(", ")})` : ""}. Fix the cause and run stepwise deploy again: it resumes from ${result.failed.map((f) => f.step).join(", ")}.`);
      break;
    case "interrupted":
      out(`Interrupted: ${result.ran.length} ran; state is saved. Run stepwise deploy to resume.`);
      break;
  }
}
