import { errors } from "@stepwise/core/engine";
import { isLiveTerminal } from "../output/reporter.js";

/** What a command is about to destroy or replace, as the person is told before saying yes. */
export interface Destruction {
  /** The site; for `delete`, the person types its name to go ahead. */
  site: string;
  /** One sentence, without a full stop: `stepwise down --volumes deletes the data of site demo`. */
  what: string;
  /** Each thing destroyed or replaced, one a line: volume names and sizes, state, secrets. */
  items: string[];
  /** Shown after the list in a terminal: the safety net (the backup written first). */
  notes?: string[];
  /**
   * `delete`: data is gone afterwards, so the person types the site name (as GitHub asks before
   * deleting a repository). `replace`: a yes or no.
   */
  severity: "delete" | "replace";
}

export type Answer = "yes" | "no" | "cancel";

/**
 * The one rule for every command that destroys or replaces data: with `--auto-approve` it goes
 * ahead; in a terminal it says exactly what will be destroyed and asks; without a terminal it
 * refuses (exit 2) with the command to run. Returns whether to go ahead; when not, it has said
 * "Nothing was changed." (and set exit code 130 after Ctrl-C).
 */
export async function confirmDestruction(destruction: Destruction, flags: { autoApprove?: boolean; json?: boolean }): Promise<boolean> {
  if (flags.autoApprove) return true;
  if (flags.json || !canAsk()) throw errors.confirmationRequired(destruction.what, destruction.items, approvedCommand());
  const lines = [`${destruction.what}:`, ...destruction.items.map((item) => `  - ${item}`), ...(destruction.notes ?? [])];
  process.stdout.write(`${lines.join("\n")}\n`);
  const answer =
    destruction.severity === "delete"
      ? await promptApproval(`Type the site name (${destruction.site}) to go ahead; anything else cancels`, { typed: destruction.site })
      : await promptApproval("Go ahead?", { initialValue: false });
  if (answer === "yes") return true;
  if (answer === "cancel") process.exitCode = 130;
  process.stdout.write(answer === "no" && destruction.severity === "delete" ? `That is not ${destruction.site}. Nothing was changed.\n` : "Nothing was changed.\n");
  return false;
}

/** A person at a terminal can answer: stdin and stdout are a TTY, and this is not CI. */
export function canAsk(): boolean {
  return isLiveTerminal() && Boolean(process.stdin.isTTY);
}

/**
 * Asks in the terminal. With `typed`, the answer is yes only when the person types exactly that
 * (the site name); otherwise a yes/no question (`initialValue` is what Enter answers).
 */
export async function promptApproval(message: string, options: { typed?: string; initialValue?: boolean } = {}): Promise<Answer> {
  const { typed, initialValue } = options;
  const prompts = await import("@clack/prompts");
  const answer = typed === undefined ? await prompts.confirm({ message, initialValue }) : await prompts.text({ message });
  if (prompts.isCancel(answer)) return "cancel";
  if (typed === undefined) return answer === true ? "yes" : "no";
  return typeof answer === "string" && answer.trim() === typed ? "yes" : "no";
}

/** The command as it was typed, with `--auto-approve` added: what to run to approve it without a terminal. */
export function approvedCommand(argv: readonly string[] = process.argv.slice(2)): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  return ["stepwise", ...argv.map(quote), "--auto-approve"].join(" ");
}
