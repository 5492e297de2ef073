import { errors, generateSecret } from "@stepwise/core/engine";
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
