/** What the CLI needs to know from its arguments before commander parses them. */
export interface ScannedArgs {
  /** The first argument that is not an option or an option's value. */
  command: string | undefined;
  /** `-C DIR`, `--site DIR` or `--site=DIR` (the last one given), if any. */
  site: string | undefined;
  /** `-h`, `--help` or the `help` command. */
  help: boolean;
}

/**
 * Reads the command, the site directory and whether help is asked for, skipping the values
 * of the global options that take one. main.ts uses it to start git before the CLI loads, and
 * to tell the program the one command to register.
 */
export function scanArgs(args: readonly string[]): ScannedArgs {
  let site: string | undefined;
  let command: string | undefined;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") help = true;
    else if (arg === "-C" || arg === "--site") site = args[++i] ?? site;
    else if (arg.startsWith("--site=")) site = arg.slice("--site=".length);
    else if (arg === "--set" || arg === "--preset") i++;
    else if (command === undefined && !arg.startsWith("-")) command = arg;
  }
  return { command, site, help: help || command === "help" };
}
