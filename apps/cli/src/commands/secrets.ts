import { MIN_SECRET_LENGTH, errors, generateSecret } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { providedSecretsSummary } from "../output/secrets-summary.js";
import { openSession, printJson } from "./open-session.js";

export async function secretsListCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const status = await session.secretStatus();
  const rows = status.map((s) => ({
    name: s.name,
    step: s.owner,
    kind: s.spec.generate ? "generated" : "provided",
    required: !s.spec.generate && s.spec.required !== false && s.applies,
    applies: s.applies,
    set: s.set,
    description: s.spec.description,
  }));
  // "N/M secrets provided": the user-provided secrets that apply, as configure counts them.
  const userProvided = rows.filter((r) => r.kind === "provided" && r.applies);
  const provided = { set: userProvided.filter((r) => r.set).length, total: userProvided.length };
  const summary = providedSecretsSummary(provided.set, provided.total);
  if (globals.json) {
    printJson(session, { store: session.secretBackend.description, provided: { ...provided, summary }, secrets: rows });
    return;
  }
  const used = rows.filter((r) => r.applies);
  const lines = [`secrets in ${session.secretBackend.description}: ${used.filter((r) => r.set).length}/${used.length} set; ${summary}`];
  const width = Math.max(4, ...rows.map((r) => r.name.length));
  for (const r of rows) {
    const state = r.set ? "set" : !r.applies ? "not used" : r.kind === "generated" ? "made on deploy" : r.required ? "MISSING" : "optional, not set";
    lines.push(`  ${r.name.padEnd(width)}  ${r.kind.padEnd(9)}  ${state.padEnd(17)}  ${r.step}: ${r.description}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Reads the value from a hidden prompt in a terminal, or from stdin when piped; never from argv. */
export async function secretsSetCommand(globals: GlobalOptions, name: string): Promise<void> {
  const session = await openSession(globals);
  const owned = session.ownedSecrets.find((s) => s.name === name);
  if (!owned) {
    throw errors.usage(
      `No step owns a secret named "${name}".`,
      `stepwise secrets list   (known: ${session.ownedSecrets.map((s) => s.name).join(", ") || "none"})`,
    );
  }
  let value: string;
  if (process.stdin.isTTY) {
    const { password, isCancel } = await import("@clack/prompts");
    const answer = await password({ message: `${name} (${owned.spec.description})`, mask: "*" });
    if (isCancel(answer)) {
      process.stdout.write("Cancelled; nothing was changed.\n");
      return;
    }
    value = answer;
  } else {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  }
  if (value === "") throw errors.usage(`No value given for ${name}; nothing was changed.`, `printf '%s' "$VALUE" | stepwise secrets set ${name}`);
  await session.underLock("secrets set", async () => (await session.secrets()).set(new Map([[name, value]])));
  if (globals.json) printJson(session, { set: name, store: session.secretBackend.description });
  else process.stdout.write(`Stored ${name} in ${session.secretBackend.description}. Steps that use it run on the next deploy.\n`);
}

/** A new CSPRNG value for a generated secret. Steps that use it see a changed fingerprint. */
export async function secretsRotateCommand(globals: GlobalOptions, name: string): Promise<void> {
  const session = await openSession(globals);
  const owned = session.ownedSecrets.find((s) => s.name === name);
  if (!owned) throw errors.usage(`No step owns a secret named "${name}".`, "stepwise secrets list");
  if (!owned.spec.generate) {
    throw errors.usage(`${name} is provided by you, not generated; set its new value instead.`, `stepwise secrets set ${name}`);
  }
  const status = (await session.secretStatus()).find((s) => s.name === name)!;
  if (!status.applies && !status.set) {
    // Making a secret nothing uses would only re-run its owner for no reason.
    throw errors.usage(`${name} is not used with this site's current settings (see stepwise secrets list); nothing was rotated.`, "stepwise secrets list");
  }
  const generate = owned.spec.generate;
  await session.underLock("secrets rotate", async () => (await session.secrets()).set(new Map([[name, generateSecret(generate)]])));
  const users = [...session.steps.values()].filter((s) => s.inputs.secrets.includes(name)).map((s) => s.name);
  if (globals.json) printJson(session, { rotated: name, steps: users });
  else process.stdout.write(`Rotated ${name}. These steps run on the next deploy: ${users.join(", ")}.\n`);
}

/**
 * Decrypts the store and checks every secret that applies with the current settings: each
 * required user-provided one is set, none is shorter than MIN_SECRET_LENGTH (stored ones that
 * no setting uses too: plan refuses those as well). A generated secret not made yet is made on
 * the next deploy, which is not a problem. Problems are one exit-2 error, each with its fix.
 */
export async function secretsVerifyCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const store = session.secretBackend.description;
  const status = await session.secretStatus();
  const tooShort = new Set((await session.secrets()).tooShort());
  const problems: { name: string; problem: string; fix: string }[] = [];
  const rows: { name: string; step: string; kind: "generated" | "provided"; status: string }[] = [];
  for (const s of status) {
    if (!s.applies) continue;
    const kind = s.spec.generate ? "generated" : "provided";
    const fix = s.spec.generate ? `stepwise secrets rotate ${s.name}` : `stepwise secrets set ${s.name}`;
    let state: string;
    if (tooShort.has(s.name)) {
      state = "too short";
      problems.push({ name: s.name, problem: `shorter than ${MIN_SECRET_LENGTH} characters (used by ${s.owner}), too short to hide from output`, fix });
    } else if (s.set) state = "set";
    else if (s.spec.generate) state = "made on next deploy";
    else if (s.spec.required !== false) {
      state = "missing";
      problems.push({ name: s.name, problem: `required by ${s.owner}, not set`, fix });
    } else state = "optional, not set";
    rows.push({ name: s.name, step: s.owner, kind, status: state });
  }
  const checked = new Set(rows.map((r) => r.name));
  for (const name of tooShort) {
    if (checked.has(name)) continue;
    // Not used with these settings, but plan and deploy refuse a store holding it.
    const owned = session.ownedSecrets.some((s) => s.name === name);
    problems.push({
      name,
      problem: `stored, shorter than ${MIN_SECRET_LENGTH} characters; plan and deploy refuse the store while it holds it`,
      fix: owned ? `stepwise secrets set ${name}` : "no step owns it, so stepwise cannot replace it: restore the store from a backup (stepwise backup restore FILE)",
    });
  }
  if (problems.length > 0) throw errors.secretsNotVerified(store, problems);
  const pending = rows.filter((r) => r.status === "made on next deploy").map((r) => r.name);
  const summary = `${rows.length} secret${rows.length === 1 ? "" : "s"} verified: all decrypt, every required one is set${pending.length ? `; generated on the next deploy: ${pending.join(", ")}` : ""}`;
  if (globals.json) printJson(session, { store, ok: true, verified: rows.length, summary, secrets: rows });
  else process.stdout.write(`${summary} (${store}).\n`);
}
