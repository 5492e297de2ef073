import { rmSync } from "node:fs";
import {
  MIN_SECRET_LENGTH,
  closestNames,
  errors,
  listQuestions,
  newProgress,
  progressFile,
  readProgress,
  saveConfigValue,
  checkAnswer,
  updateProgress,
  type ConfigureProgress,
  type JsonValue,
  type Question,
  type SiteSession,
} from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { providedSecretsSummary } from "../output/secrets-summary.js";
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
  if (flags.reset) await session.underLock("configure --reset", async () => rmSync(progressFile(dir), { force: true }));
  let progress = (await readProgress(dir)) ?? newProgress({ askAll: flags.reset });

  // Values given with --set are recorded in stepwise.yaml: configure is how config gets written down.
  if (globals.sets.length > 0) {
    session.assertConfigValid();
    const known = session.ownedConfig.map((o) => o.key);
    for (const assignment of globals.sets) {
      const key = assignment.slice(0, assignment.indexOf("=")).trim();
      if (!known.includes(key)) {
        // Writing a typo into stepwise.yaml would make it look configured while nothing reads it.
        const close = closestNames(key, known);
        throw errors.usage(
          `No step of this site owns config key "${key}" (from --set); nothing was written.`,
          close.length ? `did you mean ${close.map((c) => `--set ${c}=...`).join(" or ")}?` : "stepwise configure --status   (lists the steps and their settings)",
        );
      }
    }
    const keys = globals.sets.map((assignment) => assignment.slice(0, assignment.indexOf("=")).trim());
    const given = session;
    // Read-modify-write under the lock: saveConfigValue reads stepwise.yaml again and changes only these keys.
    progress = await session.underLock("configure --set", async () => {
      for (const key of keys) await saveConfigValue(given.site.file, key, given.config.get(key) as JsonValue);
      return updateProgress(dir, progress, (p) => p.answered.push(...keys.filter((k) => !p.answered.includes(k))));
    });
    session = await openSession({ ...globals, sets: [] });
  }

  if (flags.status) {
    await printStatus(session, progress, globals);
    return;
  }
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !flags.autoApprove && !process.env.CI;
  if (!interactive) {
    await finishNonInteractive(session, progress, globals, flags);
    return;
  }

  const prompts = await import("@clack/prompts");
  prompts.intro(`stepwise configure — site ${session.site.name} (preset ${session.site.preset})`);
  // A finished session is history: a new run starts a new one, so secrets skipped "for now" are asked again.
  if (progress.completedAt) progress = newProgress();
  const asked = (q: Question) => flags.promptSecrets || q.kind === "config";
  const pending = (await listQuestions(session, progress)).filter((q) => !q.done && asked(q));
  if (progress.answered.length + progress.skipped.length > 0 && pending.length > 0 && !flags.reset) {
    const choice = await prompts.select({
      message: `A configure session from ${progress.startedAt} stopped with ${pending.length} question${pending.length === 1 ? "" : "s"} left.`,
      options: [
        { value: "continue", label: "Continue where it stopped" },
        { value: "reset", label: "Start over (answers already saved stay in stepwise.yaml and are offered as defaults)" },
        { value: "quit", label: "Quit" },
      ],
    });
    if (prompts.isCancel(choice) || choice === "quit") {
      prompts.outro("Nothing changed. Run stepwise configure to continue.");
      if (prompts.isCancel(choice)) process.exitCode = 130;
      return;
    }
    if (choice === "reset") progress = newProgress({ askAll: true });
  }
  progress = await session.underLock("configure", () => updateProgress(dir, progress));

  for (;;) {
    const questions = await listQuestions(session, progress);
    const next = questions.find((q) => !q.done && asked(q));
    if (!next) break;
    const answered = await ask(prompts, next, session);
    if (answered === CANCEL) {
      progress = await session.underLock("configure", () => updateProgress(dir, progress));
      prompts.cancel("Stopped. Every answer so far is saved; run stepwise configure to continue.");
      process.exitCode = 130;
      return;
    }
    // The lock is held per answer, not while a human thinks: a deploy is never blocked by a prompt.
    const current = session;
    progress = await session.underLock("configure", async () => {
      if (next.kind === "config") {
        // An optional setting left empty is answered too: it is not asked again, and nothing is written.
        if (answered !== SKIP) await saveConfigValue(current.site.file, next.key, answered);
        return updateProgress(dir, progress, (p) => p.answered.push(next.key));
      }
      if (answered !== SKIP) await (await current.secrets()).set(new Map([[next.key, String(answered)]]));
      return updateProgress(dir, progress, (p) => {
        if (answered === SKIP) p.skipped.push(next.key);
      });
    });
    // Answers can switch other questions on or off (`when`), so look again with the new values.
    session = await openSession({ ...globals, sets: [] });
  }
  const made = await completeSession(session, progress);
  const summary = await secretSummary(session);
  const missing = await missingRequiredSecrets(session);
  if (missing.length > 0) {
    prompts.note(missing.map((s) => `printf '%s' "$VALUE" | stepwise secrets set ${s.name}   (${s.owner}: ${s.spec.description})`).join("\n"), `Deploy refuses to run until ${missing.length === 1 ? "this secret is" : "these secrets are"} set`);
  }
  prompts.outro(`Configured. ${summary}${made.length ? `; generated ${made.join(", ")}` : ""}. Next: ${missing.length ? `stepwise secrets set ${missing[0]!.name}` : "stepwise deploy"}`);
}

const SKIP = Symbol("skip");
const CANCEL = Symbol("cancel");

async function ask(prompts: typeof import("@clack/prompts"), question: Question, session: SiteSession): Promise<JsonValue | typeof SKIP | typeof CANCEL> {
  const label = `${question.prompt}${question.required ? "" : " (optional)"}  [${question.owner}: ${question.key}]`;
  if (question.kind === "secret") {
    const value = await prompts.password({
      message: `${label}\n  leave empty to skip for now`,
      mask: "*",
      validate: (text) => (text && text.length < MIN_SECRET_LENGTH ? `at least ${MIN_SECRET_LENGTH} characters (a shorter value could not be hidden in output)` : undefined),
    });
    if (prompts.isCancel(value)) return CANCEL;
    return value === "" || value === undefined ? SKIP : value;
  }
  const spec = question.spec!;
  if (spec.choices && spec.choices.length > 0) {
    const value = await prompts.select({
      message: label,
      options: spec.choices.map((c) => ({ value: c, label: String(c) })),
      initialValue: question.current,
    });
    return prompts.isCancel(value) ? CANCEL : (value as JsonValue);
  }
  if (spec.type === "boolean") {
    const value = await prompts.confirm({ message: label, initialValue: question.current === true });
    return prompts.isCancel(value) ? CANCEL : value;
  }
  const current = question.current === undefined ? undefined : Array.isArray(question.current) ? question.current.join(",") : String(question.current);
  const value = await prompts.text({
    message: current !== undefined && current !== "" ? `${label} [${current}]` : label,
    placeholder: current,
    defaultValue: current,
    validate: (text) => {
      const input = text === "" || text === undefined ? current : text;
      if (input === undefined || input === "") return question.required ? "a value is required" : undefined;
      const checked = checkAnswer(question, input, session);
      return "error" in checked ? checked.error : undefined;
    },
  });
  if (prompts.isCancel(value)) return CANCEL;
  const input = value === "" || value === undefined ? current : value;
  if (input === undefined || input === "") return SKIP;
  const checked = checkAnswer(question, input, session);
  // validate() above already refused anything checkAnswer refuses.
  if ("error" in checked) throw errors.usage(`${question.key}: ${checked.error}`, "stepwise configure");
  return checked.value;
}

async function missingRequiredSecrets(session: SiteSession) {
  return (await session.secretStatus()).filter((s) => !s.spec.generate && s.applies && s.spec.required !== false && !s.set);
}

async function finishNonInteractive(session: SiteSession, progress: ConfigureProgress, globals: GlobalOptions, flags: ConfigureFlags): Promise<void> {
  session.assertConfigValid();
  const setCommand = (name: string) => `printf '%s' "$VALUE" | stepwise secrets set ${name}`;
  const missingConfig = session.config.missing.map((m) => `  - config ${m.key} (${m.owner}): ${m.spec.description} — set it in stepwise.yaml or with --set ${m.key}=...`);
  const secretsLeft = await missingRequiredSecrets(session);
  // --no-prompt-secrets: the secrets are set later (stepwise secrets set); deploy refuses until then.
  const missingSecrets = flags.promptSecrets ? secretsLeft.map((s) => `  - secret ${s.name} (${s.owner}): ${s.spec.description} — ${setCommand(s.name)}`) : [];
  const missing = [...missingConfig, ...missingSecrets];
  if (missing.length > 0) {
    throw errors.configMissingNoTerminal(missing, session.config.missing.map((m) => m.key), flags.promptSecrets ? secretsLeft.map((s) => s.name) : []);
  }
  const made = await completeSession(session, progress);
  if (globals.json) {
    printJson(session, { configured: true, generated: made, secretsNotSet: secretsLeft.map((s) => s.name) });
    return;
  }
  const summary = `${await secretSummary(session)}${made.length ? `; generated ${made.join(", ")}` : ""}`;
  if (secretsLeft.length === 0) {
    process.stdout.write(`Configured: nothing required is missing (${summary}). Next: stepwise deploy\n`);
    return;
  }
  const lines = secretsLeft.map((s) => `  - secret ${s.name} (${s.owner}): ${setCommand(s.name)}`);
  process.stdout.write(`Configured settings (${summary}). Deploy refuses to run until ${secretsLeft.length === 1 ? "this secret is" : "these secrets are"} set:\n${lines.join("\n")}\n`);
}

/** Makes the generated secrets that are missing and marks the configure session complete, under the lock. */
function completeSession(session: SiteSession, progress: ConfigureProgress): Promise<string[]> {
  return session.underLock("configure", async () => {
    const made = await session.ensureGeneratedSecrets();
    await updateProgress(session.site.dir, progress, (p) => (p.completedAt = new Date().toISOString()));
    return made;
  });
}

async function secretSummary(session: SiteSession): Promise<string> {
  const provided = (await session.secretStatus()).filter((s) => !s.spec.generate && s.applies);
  return providedSecretsSummary(provided.filter((s) => s.set).length, provided.length);
}

async function printStatus(session: SiteSession, progress: ConfigureProgress, globals: GlobalOptions): Promise<void> {
  // Status reports what is true now: a skipped secret is still missing, so it is not counted as done.
  const questions = await listQuestions(session, { ...progress, skipped: [] });
  const skipped = new Set(progress.completedAt ? [] : progress.skipped);
  const owners = [...new Set(questions.map((q) => q.owner))];
  const perStep = owners.map((owner) => {
    const mine = questions.filter((q) => q.owner === owner);
    const config = mine.filter((q) => q.kind === "config");
    const secrets = mine.filter((q) => q.kind === "secret");
    return {
      step: owner,
      config: { done: config.filter((q) => q.done).length, total: config.length },
      secrets: { done: secrets.filter((q) => q.done).length, total: secrets.length, notSet: secrets.filter((q) => !q.done).map((q) => q.key) },
    };
  });
  const missing = await missingRequiredSecrets(session);
  const nextConfig = questions.find((q) => q.kind === "config" && !q.done);
  // In an unfinished session a skipped secret is not asked again; a new session asks it again.
  const nextSecret = questions.find((q) => q.kind === "secret" && !q.done && !skipped.has(q.key));
  const next = nextConfig ?? nextSecret;
  const ready = session.config.missing.length === 0 && session.config.problems.length === 0 && missing.length === 0;
  const summary = await secretSummary(session);
  if (globals.json) {
    printJson(session, {
      steps: perStep,
      next: next ? { kind: next.kind, key: next.key, step: next.owner } : null,
      secrets: summary,
      missingSecrets: missing.map((s) => s.name),
      readyToDeploy: ready,
      completedAt: progress.completedAt ?? null,
    });
    return;
  }
  const width = Math.max(4, ...owners.map((o) => o.length));
  const lines = perStep.map((s) => {
    const skippedNote = s.secrets.notSet.length ? ` (not set: ${s.secrets.notSet.join(", ")})` : "";
    return `  ${s.step.padEnd(width)}  settings ${s.config.done}/${s.config.total}  secrets ${s.secrets.done}/${s.secrets.total}${skippedNote}`;
  });
  lines.push(summary);
  if (next) lines.push(`next: ${next.kind} ${next.key} (${next.owner}) — run stepwise configure`);
  for (const s of missing) lines.push(`missing: secret ${s.name} (${s.owner}) — printf '%s' "$VALUE" | stepwise secrets set ${s.name}`);
  for (const p of session.config.problems) lines.push(`invalid: config ${p.key} (from ${p.source}): ${p.message} — run stepwise configure`);
  for (const m of session.config.missing) lines.push(`missing: config ${m.key} (${m.owner}) — run stepwise configure, or --set ${m.key}=...`);
  if (!next && ready) lines.push("nothing left to ask — run stepwise deploy");
  else if (ready) lines.push("every required value is set: stepwise deploy can run now (the questions left have defaults)");
  process.stdout.write(`${lines.join("\n")}\n`);
}
