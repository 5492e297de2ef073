/** Process exit codes, the CLI's contract with scripts and CI. */
export const ExitCode = {
  /** Everything asked for was done (or nothing needed doing). */
  Ok: 0,
  /** A step failed; its error is recorded in state and the next run resumes from it. */
  StepFailed: 1,
  /** Bad usage, configuration or input: nothing was changed. */
  BadInput: 2,
  /** The state is locked by another live run. */
  Locked: 3,
  /** Interrupted by SIGINT/SIGTERM; state was saved and the next run resumes. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface StepwiseErrorOptions {
  /** Exit code the CLI maps this error to. Defaults to {@link ExitCode.BadInput}. */
  exitCode?: ExitCode;
  /** The exact command (or action) that fixes the problem. */
  hint?: string;
  /** Where the problem is: a file, `file:line`, an environment variable, a plugin. */
  location?: string;
  /** Plugin that raised or caused the error, as `name@version`. */
  plugin?: string;
  /** Step the error belongs to. */
  step?: string;
  /** The plugin hook that raised it: `run`, `check`, `connect`, `ensure postgres db` ... */
  hook?: string;
  /** Stack of the plugin's own error this one wraps (redacted), see {@link StepwiseError.pluginStack}. */
  pluginStack?: string;
  cause?: unknown;
  /** Extra facts for `--json` output. Never put a secret value here. */
  details?: Record<string, unknown>;
}

/**
 * The one error type stepwise raises on purpose. Anything else reaching the CLI's
 * top-level handler is reported as an internal error, with versions, as a bug.
 */
export class StepwiseError extends Error {
  override readonly name = "StepwiseError";
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly location: string | undefined;
  plugin: string | undefined;
  step: string | undefined;
  hook: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: StepwiseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
    this.hint = options.hint;
    this.location = options.location;
    this.plugin = options.plugin;
    this.step = options.step;
    this.hook = options.hook;
    this.pluginStack = options.pluginStack;
    this.details = options.details;
  }

  /**
   * The stack of the plugin's own error this one wraps (a `TypeError` thrown by a step, say),
   * so a plugin author can find the failing line: printed with `--verbose`, always in
   * `--json`. `undefined` for errors stepwise raised on purpose.
   */
  readonly pluginStack: string | undefined;

  /** A plain object for `--json` output and for the state file. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.location ? { location: this.location } : {}),
      ...(this.plugin ? { plugin: this.plugin } : {}),
      ...(this.step ? { step: this.step } : {}),
      ...(this.hook ? { hook: this.hook } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
      ...(this.pluginStack ? { stack: this.pluginStack } : {}),
    };
  }
}

export function isStepwiseError(error: unknown): error is StepwiseError {
  return error instanceof StepwiseError || (error instanceof Error && error.name === "StepwiseError" && "code" in error);
}

/**
 * A copy of `error` with `redact` applied to every string it carries (message, code, hint,
 * location, plugin, step and every string in details), for errors that may hold a secret
 * value, such as those a plugin throws. The cause is dropped: it is never printed, and it
 * could hold anything.
 */
export function redactError(error: StepwiseError, redact: (text: string) => string): StepwiseError {
  const text = (value: unknown) => (value === undefined || value === null ? undefined : redact(String(value)));
  const copy = new StepwiseError(text(error.code) ?? "UNKNOWN", text(error.message) ?? "", {
    exitCode: error.exitCode,
    hint: text(error.hint),
    location: text(error.location),
    plugin: text(error.plugin),
    step: text(error.step),
    hook: text(error.hook),
    pluginStack: text(error.pluginStack),
    details: error.details === undefined ? undefined : (redactJson(error.details, redact, 0) as Record<string, unknown>),
  });
  return copy;
}

function redactJson(value: unknown, redact: (text: string) => string, depth: number): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 20) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redactJson(item, redact, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [redact(key), redactJson(item, redact, depth + 1)]));
}

/** Message of any thrown value, without its stack. */
export function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
