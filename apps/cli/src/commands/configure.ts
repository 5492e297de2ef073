import { rmSync } from "node:fs";
import {
  ErrorCode,
  StepwiseError,
  listQuestions,
  newProgress,
  progressFile,
  readProgress,
  saveConfigValue,
  checkAnswer,
  writeProgress,
  type ConfigureProgress,
  type JsonValue,
  type Question,
  type SiteSession,
} from "@stepwise/core";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

export interface ConfigureFlags {
  reset?: boolean;
  status?: boolean;
  promptSecrets: boolean;
  autoApprove?: boolean;
}

/**
 * Asks for what is missing (required first, defaults in brackets, secrets hidden and
 * skippable), saving every answer at once so an interrupted session resumes. Without a
 * terminal it asks nothing: it records `--set` values and lists everything still missing.
 */
export async function configureCommand(globals: GlobalOptions, flags: ConfigureFlags): Promise<void> {
  let session = await openSession(globals);
  const dir = session.site.dir;
  if (flags.reset) rmSync(progressFile(dir), { force: true });
  let progress = (await readProgress(dir)) ?? newProgress();

  // Values given with --set are recorded in stepwise.yaml: configure is how config gets written down.
  if (globals.sets.length > 0) {
    session.assertConfigValid();
    for (const assignment of globals.sets) {
      const key = assignment.slice(0, assignment.indexOf("="));
      await saveConfigValue(session.site.file, key, session.config.get(key) as JsonValue);
      if (!progress.answered.includes(key)) progress.answered.push(key);
    }
    await writeProgress(dir, progress);
    session = await openSession({ ...globals, sets: [] });
  }

  if (flags.status) {
    await printStatus(session, progress, globals);
    return;
  }
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !flags.autoApprove && !process.env.CI;
  if (!interactive) {
    await finishNonInteractive(session, progress, globals);
    return;
  }

  const prompts = await import("@clack/prompts");
  prompts.intro(`stepwise configure — site ${session.site.name} (preset ${session.site.preset})`);
  const pending = (await listQuestions(session, progress)).filter((q) => !q.done);
  if (progress.answered.length + progress.skipped.length > 0 && !progress.completedAt && pending.length > 0 && !flags.reset) {
    const choice = await prompts.select({
      message: `A configure session from ${progress.startedAt} stopped with ${pending.length} question${pending.length === 1 ? "" : "s"} left.`,
      options: [
        { value: "continue", label: "Continue where it stopped" },
        { value: "reset", label: "Start over (answers already saved stay in stepwise.yaml)" },
        { value: "quit", label: "Quit" },
      ],
    });
    if (prompts.isCancel(choice) || choice === "quit") {
      prompts.outro("Nothing changed.");
      return;
    }
    if (choice === "reset") progress = newProgress();
  }

  for (;;) {
    const questions = await listQuestions(session, progress);
    const next = questions.find((q) => !q.done && (flags.promptSecrets || q.kind === "config"));
    if (!next) break;
    const answered = await ask(prompts, next, session);
    if (answered === "cancel") {
      await writeProgress(dir, progress);
      prompts.cancel("Stopped. Every answer so far is saved; run stepwise configure to continue.");
      process.exitCode = 130;
      return;
    }
    if (next.kind === "config") {
      await saveConfigValue(session.site.file, next.key, answered as JsonValue);
      progress.answered.push(next.key);
    } else if (answered === "skip") {
      progress.skipped.push(next.key);
    } else {
      const secrets = await session.secrets();
      await secrets.set(new Map([[next.key, answered as string]]));
    }
    await writeProgress(dir, progress);
    // Answers can switch other questions on or off (`when`), so look again with the new values.
    session = await openSession({ ...globals, sets: [] });
  }
  const made = await session.ensureGeneratedSecrets();
  progress.completedAt = new Date().toISOString();
  await writeProgress(dir, progress);
  const summary = await secretSummary(session);
  prompts.outro(`Configured. ${summary}${made.length ? `; generated ${made.join(", ")}` : ""}. Next: stepwise deploy`);
}

async function ask(prompts: typeof import("@clack/prompts"), question: Question, session: SiteSession): Promise<JsonValue | "skip" | "cancel"> {
  const label = `${question.prompt}${question.required ? "" : " (optional)"}  [${question.owner}: ${question.key}]`;
  if (question.kind === "secret") {
    const value = await prompts.password({ message: `${label}\n  leave empty to skip for now`, mask: "*" });
    if (prompts.isCancel(value)) return "cancel";
    return value === "" ? "skip" : value;
  }
  const spec = question.spec!;
  if (spec.choices && spec.choices.length > 0) {
    const value = await prompts.select({
      message: label,
      options: spec.choices.map((c) => ({ value: c, label: String(c) })),
      initialValue: question.current,
    });
    return prompts.isCancel(value) ? "cancel" : (value as JsonValue);
  }
  if (spec.type === "boolean") {
    const value = await prompts.confirm({ message: label, initialValue: question.current === true });
    return prompts.isCancel(value) ? "cancel" : value;
  }
  const current = question.current === undefined ? undefined : Array.isArray(question.current) ? question.current.join(",") : String(question.current);
  const value = await prompts.text({
    message: current !== undefined ? `${label} [${current}]` : label,
    placeholder: current,
    defaultValue: current,
    validate: (text) => {
      const input = text === "" || text === undefined ? current : text;
      if (input === undefined || input === "") return question.required ? "a value is required" : undefined;
      const checked = checkAnswer(question, input, session);
      return "error" in checked ? checked.error : undefined;
    },
  });
  if (prompts.isCancel(value)) return "cancel";
  const input = value === "" ? current : value;
  if (input === undefined) return "skip";
  const checked = checkAnswer(question, input, session);
  return "error" in checked ? "cancel" : checked.value;
}

async function finishNonInteractive(session: SiteSession, progress: ConfigureProgress, globals: GlobalOptions): Promise<void> {
  session.assertConfigValid();
  const missingConfig = session.config.missing.map((m) => `  - config ${m.key} (${m.owner}): ${m.spec.description} — set it in stepwise.yaml or with --set ${m.key}=...`);
  const missingSecrets = (await session.secretStatus())
    .filter((s) => !s.spec.generate && s.applies && s.spec.required !== false && !s.set)
    .map((s) => `  - secret ${s.name} (${s.owner}): ${s.spec.description} — printf '%s' "$VALUE" | stepwise secrets set ${s.name}`);
  const missing = [...missingConfig, ...missingSecrets];
  if (missing.length > 0) {
    throw new StepwiseError(ErrorCode.ConfigMissing, `${missing.length} required value${missing.length === 1 ? " is" : "s are"} missing (no terminal, so nothing was asked):\n${missing.join("\n")}`, {
      hint: "set each one as shown, or run stepwise configure in a terminal",
    });
  }
  const made = await session.ensureGeneratedSecrets();
  progress.completedAt = new Date().toISOString();
  await writeProgress(session.site.dir, progress);
  if (globals.json) printJson(session, { configured: true, generated: made });
  else process.stdout.write(`Configured: nothing required is missing (${await secretSummary(session)}${made.length ? `; generated ${made.join(", ")}` : ""}). Next: stepwise deploy\n`);
}

async function secretSummary(session: SiteSession): Promise<string> {
  const provided = (await session.secretStatus()).filter((s) => !s.spec.generate && s.applies);
  return `${provided.filter((s) => s.set).length}/${provided.length} secrets provided`;
}

async function printStatus(session: SiteSession, progress: ConfigureProgress, globals: GlobalOptions): Promise<void> {
  const questions = await listQuestions(session, progress);
  const owners = [...new Set(questions.map((q) => q.owner))];
  const perStep = owners.map((owner) => {
    const mine = questions.filter((q) => q.owner === owner);
    const config = mine.filter((q) => q.kind === "config");
    const secrets = mine.filter((q) => q.kind === "secret");
    return { step: owner, config: { done: config.filter((q) => q.done).length, total: config.length }, secrets: { done: secrets.filter((q) => q.done).length, total: secrets.length } };
  });
  const next = questions.find((q) => !q.done);
  const summary = await secretSummary(session);
  if (globals.json) {
    printJson(session, { steps: perStep, next: next ? { kind: next.kind, key: next.key, step: next.owner } : null, secrets: summary, completedAt: progress.completedAt ?? null });
    return;
  }
  const width = Math.max(4, ...owners.map((o) => o.length));
  const lines = perStep.map((s) => `  ${s.step.padEnd(width)}  settings ${s.config.done}/${s.config.total}  secrets ${s.secrets.done}/${s.secrets.total}`);
  lines.push(summary);
  lines.push(next ? `next: ${next.kind} ${next.key} (${next.owner}) — run stepwise configure` : "nothing left to ask — run stepwise deploy");
  process.stdout.write(`${lines.join("\n")}\n`);
}
