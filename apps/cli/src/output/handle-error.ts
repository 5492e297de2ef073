import { CommanderError } from "commander";
import { errorMessage, errors, isStepwiseError, redactKnownSecrets, type StepwiseError } from "@stepwise/core/engine";

export interface ErrorOutputOptions {
  json: boolean;
  verbose: boolean;
  version: string;
}

/**
 * Maps any error to an exit code and prints it once: what failed, where, and the command that
 * fixes it. Unexpected errors print as internal errors with versions, the stack only with -v.
 * Everything printed here is redacted with every secret value this process has read: an
 * unexpected error's message or stack may hold one.
 */
export function handleError(error: unknown, options: ErrorOutputOptions): number {
  const out = redactedOutput();
  try {
    return printError(error, options, out);
  } catch {
    // Printing failed (an error whose fields are not what they claim): say so, never crash.
    if (options.json) out.stdout(`${JSON.stringify({ error: { code: "INTERNAL", message: "an error that could not be printed", version: options.version } })}\n`);
    out.stderr(`internal error: an error that could not be printed\n  stepwise ${options.version}; this is a bug in stepwise; please report it with the command you ran\n`);
    return 1;
  }
}

interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

function printError(error: unknown, options: ErrorOutputOptions, out: Output): number {
  if (error instanceof CommanderError) {
    // `stepwise` alone prints help on stderr; with --json, stdout still gets one document.
    if (error.code === "commander.help" && options.json) {
      out.stdout(`${JSON.stringify({ error: errors.usage("no command given", "stepwise --help").toJSON() }, null, 2)}\n`);
      return 2;
    }
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0;
    if (error.code === "stepwise.usage") out.stderr(`error: ${error.message}\n`);
    // Commander has printed its message on stderr; with --json, stdout still gets one document.
    if (options.json) {
      const usage = errors.usage(error.message.replace(/^error: /, ""), "stepwise --help");
      out.stdout(`${JSON.stringify({ error: usage.toJSON() }, null, 2)}\n`);
    }
    return 2;
  }
  if (isStepwiseError(error)) {
    printStepwiseError(error, options, out);
    return error.exitCode;
  }
  const message = errorMessage(error);
  if (options.json) {
    out.stdout(`${JSON.stringify({ error: { code: "INTERNAL", message, version: options.version } }, null, 2)}\n`);
  }
  out.stderr(`internal error: ${message}\n  stepwise ${options.version}, node ${process.version}, ${process.platform}-${process.arch}\n  this is a bug in stepwise; please report it with the command you ran${options.verbose ? "" : " and its output with --verbose"}\n`);
  if (options.verbose && error instanceof Error && error.stack) out.stderr(`${error.stack}\n`);
  return 1;
}

export function printStepwiseError(error: StepwiseError, options: Pick<ErrorOutputOptions, "json">, out: Output = redactedOutput()): void {
  if (options.json) {
    out.stdout(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
  }
  const lines = [`error: ${error.message}`];
  if (error.step) lines.push(`  step: ${error.step}`);
  if (error.plugin) lines.push(`  plugin: ${error.plugin}`);
  if (error.hint) lines.push(`  fix: ${error.hint}`);
  out.stderr(`${lines.join("\n")}\n`);
}

function redactedOutput(): Output {
  return {
    stdout: (text) => process.stdout.write(redactKnownSecrets(text)),
    stderr: (text) => process.stderr.write(redactKnownSecrets(text)),
  };
}
