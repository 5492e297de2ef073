import { readFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  CORE_VERSION,
  ErrorCode,
  describeFoundLock,
  describeHolder,
  errors,
  isStepwiseError,
  parseState,
  readState,
  storeInlineListings,
  withInlineListings,
  withoutInlineListings,
  writeFileAtomically,
  type SiteSession,
  type StateDocument,
} from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

export async function stateShowCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const { state } = await readState(session.stateBackend);
  if (globals.json || state) {
    printJson(session, state ?? null);
    return;
  }
  process.stdout.write(`No state yet in ${session.stateBackend.description}. Run: stepwise deploy\n`);
}

export async function stateUnlockCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const broken = await session.stateBackend.forceUnlock();
  if (globals.json) {
    printJson(session, { unlocked: broken ?? null });
    return;
  }
  if (!broken) process.stdout.write(`The state (${session.stateBackend.description}) was not locked.\n`);
  else if ("unreadable" in broken) process.stdout.write(`Removed the state lock: ${describeFoundLock(broken)}.\n`);
  else process.stdout.write(`Removed the state lock held by ${describeHolder(broken)}.\n`);
}

/** The text of a state document, as the file backend stores it. */
const stateText = (state: StateDocument) => `${JSON.stringify(state, null, 2)}\n`;

/**
 * Prints the state document (JSON; state never holds a secret value), or writes it atomically
 *  to `output` (0644), like `terraform state pull`, with each file listing inline. Takes no lock:
 * it only reads.
 */
export async function statePullCommand(globals: GlobalOptions, options: { output?: string }): Promise<void> {
  const session = await openSession(globals);
  const { state: stored } = await readState(session.stateBackend);
  if (!stored) throw errors.stateMissing(session.stateBackend.description);
  // A pulled document is self-contained: each step's file listing inline (state push stores them again).
  const state = await withInlineListings(session.stateBackend, stored);
  if (options.output === undefined) {
    process.stdout.write(stateText(state));
    return;
  }
  const file = path.resolve(options.output);
  try {
    await writeFileAtomically(file, stateText(state), { mode: 0o644, fsync: true });
  } catch (error) {
    throw errors.usage(`Cannot write ${options.output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; nothing was written.`, "stepwise state pull -o FILE   (a file in a directory that exists and that you can write)");
  }
  if (globals.json) printJson(session, { written: file, backend: session.stateBackend.description, serial: state.serial, lineage: state.lineage, steps: Object.keys(state.steps).length });
  else process.stdout.write(`Wrote the state (serial ${state.serial}, ${Object.keys(state.steps).length} steps) from ${session.stateBackend.description} to ${options.output}.\n`);
}

/** What a push changes in the recorded steps, by name. */
interface StepChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/**
 * Replaces the state with the document in `file` (`-` reads stdin), under the site lock and
 * compare-and-swap on the etag read under it. The document is parsed as state is (an older
 * format is migrated, a newer one refused). Unless `force`, a document of another lineage or
 * site, or with a serial lower than the current one (an older copy: someone wrote since it was
 * pulled), is refused with exit 2 and nothing is written. The written serial is one above both.
 */
export async function statePushCommand(globals: GlobalOptions, file: string, options: { force?: boolean }): Promise<void> {
  const session = await openSession(globals);
  const source = file === "-" ? "(stdin)" : file;
  const pushed = parsePushedState(file, source);
  const backend = session.stateBackend.description;
  const result = await session.underLock("state push", async () => {
    const { state: current, etag } = await session.stateBackend.read();
    const problems = pushProblems(pushed, current, session, source, backend);
    if (problems.length > 0 && !options.force) throw errors.statePushRefused(file, source, backend, problems);
    const changes = stepChanges(current ? withoutInlineListings(current).steps : {}, withoutInlineListings(pushed).steps);
    const unchanged = current !== undefined && problems.length === 0 && pushed.serial === current.serial && changes.changed.length + changes.added.length + changes.removed.length === 0;
    if (unchanged) return { changes, from: current.serial, to: current.serial, written: false, overridden: [] };
    const serial = Math.max(current?.serial ?? 0, pushed.serial) + 1;
    // The document now belongs to this site; deploy would write the same on its next save.
    const document: StateDocument = { ...pushed, serial, site: session.site.name, writtenBy: CORE_VERSION, updatedAt: new Date().toISOString() };
    // The pushed listings go to the object store first; their addresses are recomputed from them.
    await storeInlineListings(session.stateBackend, document);
    await session.stateBackend.write(document, etag);
    return { changes, from: current?.serial ?? null, to: serial, written: true, overridden: problems.map((p) => p.field) };
  });
  const { changes } = result;
  if (globals.json) {
    printJson(session, { pushed: source, backend, written: result.written, serial: { from: result.from, to: result.to }, lineage: pushed.lineage, forced: result.overridden, steps: changes });
    return;
  }
  if (!result.written) {
    process.stdout.write(`Nothing to push: ${source} matches the state in ${backend} (serial ${result.to}).\n`);
    return;
  }
  const count = (n: number) => `${n} step${n === 1 ? "" : "s"}`;
  const lines = [
    `Pushed ${source} to ${backend} (serial ${result.from ?? "none"} -> ${result.to}): ${count(changes.added.length)} added, ${changes.removed.length} removed, ${changes.changed.length} changed.`,
    ...changes.added.map((name) => `  + ${name}`),
    ...changes.removed.map((name) => `  - ${name}`),
    ...changes.changed.map((name) => `  ~ ${name}`),
  ];
  if (result.overridden.length > 0) lines.push(`--force overrode the ${result.overridden.join(", ")} check${result.overridden.length === 1 ? "" : "s"}.`);
  lines.push("Run stepwise plan to see what the next deploy does with it.");
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Reads and parses the pushed document; a file that is not state is exit 2 naming the file. */
function parsePushedState(file: string, source: string): StateDocument {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw errors.usage(`Cannot read ${source}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (code ?? (error as Error).message)}; nothing was changed.`, "stepwise state pull -o state.json   (then: stepwise state push state.json)");
  }
  try {
    return parseState(text, source);
  } catch (error) {
    // parseState's hint is about repairing the site's own state; here the pushed file is at fault.
    if (isStepwiseError(error) && error.code === ErrorCode.StateCorrupt) {
      throw errors.statePushCorrupt(error);
    }
    throw error;
  }
}

function pushProblems(pushed: StateDocument, current: StateDocument | undefined, session: SiteSession, file: string, backend: string): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  // A document migrated from the unversioned format names no site.
  if (pushed.site !== "" && pushed.site !== session.site.name) {
    problems.push({ field: "site", message: `${file} is the state of site "${pushed.site}", but this site is "${session.site.name}" (--force pushes it anyway)` });
  }
  if (current && pushed.lineage !== current.lineage) {
    problems.push({ field: "lineage", message: `${file} has lineage ${pushed.lineage}, but the state in ${backend} has lineage ${current.lineage}: another history (--force replaces it)` });
  }
  if (current && pushed.serial < current.serial) {
    problems.push({
      field: "serial",
      message: `${file} has serial ${pushed.serial}, lower than the current serial ${current.serial}: an older copy, and the state was written since (--force replaces it anyway)`,
    });
  }
  return problems;
}

function stepChanges(before: StateDocument["steps"], after: StateDocument["steps"]): StepChanges {
  const names = (steps: StateDocument["steps"]) => Object.keys(steps).sort();
  return {
    added: names(after).filter((name) => !Object.hasOwn(before, name)),
    removed: names(before).filter((name) => !Object.hasOwn(after, name)),
    changed: names(after).filter((name) => Object.hasOwn(before, name) && !isDeepStrictEqual(before[name], after[name])),
  };
}
