import type { StateBackend, StateDocument, StepRecord } from "../contracts.js";

/**
 * The run journal: what a deploy records between two state writes, one line per record,
 * appended durably (`StateBackend.appendJournal`). Its first line names the state it
 * continues (lineage, serial, updatedAt as written); then one `{step, record}` line per step
 * start or result. The run writes the state once at its end (the fold), which clears the
 * journal; a run that was killed leaves it, and the next reader applies it.
 */
export interface JournalHeader {
  journal: 1;
  lineage: string;
  serial: number;
  updatedAt: string;
}

export function journalHeader(state: StateDocument): string {
  return JSON.stringify({ journal: 1, lineage: state.lineage, serial: state.serial, updatedAt: state.updatedAt } satisfies JournalHeader);
}

export function journalRecord(step: string, record: StepRecord): string {
  return JSON.stringify({ step, record });
}

/**
 * Applies to `state` (in place) the records of a journal that continues it, in order, and
 * returns how many. A journal that continues another state (it was folded, or the state was
 * replaced since) applies nothing. A torn last line (no newline after it: the append was cut
 * short) is dropped, as is everything from a damaged line on: a step whose result line is
 * not whole stays `running`, so it runs again; a whole line is a result that was fsync'd
 * before the run went on.
 */
export function applyJournal(state: StateDocument, text: string | undefined): number {
  if (!text) return 0;
  const lines = text.split("\n");
  lines.pop(); // after the last newline: "" or a torn line
  const header = parseLine(lines[0]) as Partial<JournalHeader> | undefined;
  if (header?.journal !== 1 || header.lineage !== state.lineage || header.serial !== state.serial || header.updatedAt !== state.updatedAt) return 0;
  let applied = 0;
  for (const line of lines.slice(1)) {
    const entry = parseLine(line) as { step?: unknown; record?: { status?: unknown } } | undefined;
    const status = entry?.record?.status;
    if (typeof entry?.step !== "string" || (status !== "running" && status !== "succeeded" && status !== "failed")) break;
    state.steps[entry.step] = entry.record as StepRecord;
    applied++;
  }
  return applied;
}

function parseLine(line: string | undefined): unknown {
  if (line === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the state with the journal of an unfinished (or killed) run applied: what every
 * reader sees. `journal` says whether a journal was found (applied or not): the next writer
 * folds or clears it before it appends.
 */
export async function readState(backend: Pick<StateBackend, "read" | "readJournal">): Promise<{ state: StateDocument | undefined; etag: string | undefined; journal: { found: boolean; applied: number } }> {
  const [read, text] = await Promise.all([backend.read(), backend.readJournal()]);
  const applied = read.state ? applyJournal(read.state, text) : 0;
  return {
    state: read.state,
    get etag() {
      return read.etag;
    },
    journal: { found: text !== undefined, applied },
  };
}
