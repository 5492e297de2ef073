import { createRequire } from "node:module";
import { Command, CommanderError, Option } from "commander";
import { PRESETS } from "@stepwise/core/engine";
import { deployCommand } from "./commands/deploy.js";
import { planCommand } from "./commands/plan.js";
import { handleError } from "./output/handle-error.js";
import type { GlobalOptions } from "./global-options.js";

const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Builds the command tree. Command modules are imported only when their command runs, but for
 * plan and deploy, the commands run most: they are in this module's bundle, where loading
 * their four small modules on demand cost ~1.5 ms of a no-op plan. Given `only`, a command
 * name, it registers that command alone (an unknown name registers all of them, for
 * commander's did-you-mean): defining all of them and their options costs ~3 ms of a 90 ms
 * no-op plan.
 */
/**
 * @param writeOut where help and the version go (stdout; with `--json`, a buffer that run()
 *   prints as one JSON document, so stdout is always JSON).
 */
export function buildProgram(only?: string, writeOut: (text: string) => void = (text) => process.stdout.write(text)): Command {
  const program = new Command("stepwise")
    .description("Idempotent, plugin-based deployer: runs only the steps whose inputs changed.")
    .version(pkg.version, "-V, --version")
    .option("-C, --site <dir>", "site directory (holds stepwise.yaml)", process.cwd())
    .option("--set <key=value>", "set a config value for this run (repeatable; wins over file and env)", collect, [])
    .addOption(new Option("--preset <name>", "use a preset instead of the site's").choices([...PRESETS]))
    .option("--json", "print machine-readable JSON on stdout (no secret values, ever)")
    .option("-v, --verbose", "print step logs and debug details")
    .option("--lock-wait <duration>", "wait this long (e.g. 90s, 5m) for a state lock another run holds instead of exiting 3", (v) => parseDuration(v, "--lock-wait"))
    .showHelpAfterError("(run stepwise --help for usage)")
    // Subcommands inherit this: `stepwise deploy --help` lists --json, --set, -C ... as well.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeOut, writeErr: (text) => process.stderr.write(text) })
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 a step failed, 2 bad usage/config/input, 3 state locked, 130 interrupted.

Environment:
  STEPWISE_TRACE=1   print where a command's time goes (and whether a plan was replayed)
  STEPWISE_WATCH=0   no site watcher (=1: one even for a small site or in CI); on Linux a
                     plan that finds nothing to do on a large site leaves a process that
                     watches it, so the next no-op plan need not stat every file

Examples:
  stepwise init                      set up a site (stepwise.yaml, package.json, .gitignore)
  stepwise plan                      show what would run, and why
  stepwise deploy                    run what changed (resumes after a failure)
  stepwise deploy --force-step web   run one step even if unchanged
  stepwise secrets set smtp_password read a secret from a hidden prompt or stdin`,
    );

  const planOptions = (command: Command) =>
    command
      .option("--force-step <name>", "run this step even if unchanged (repeatable)", collect, [])
      .option("--force-all", "run every step")
      .option("--reset-state", "plan as if nothing had ever run (state is replaced on deploy)")
      .option("--no-refresh", "skip drift checks against the target")
      .option("--concurrency <n>", "steps run at once", (v) => parsePositive(v, "--concurrency"), 4)
      .option("--expect-no-changes", "fail (exit 1) if anything would run or be removed")
      .option("--prune-volumes", "when removing what left stepwise.yaml, also delete its data volumes (the data is gone)")
      .option("--allow-plugin-downgrade", "run steps whose state a newer version of their plugin wrote, with the installed version");

  const commands: Record<string, () => void> = {
    plan: () => {
      planOptions(program.command("plan").description("show every step with run or skip, and why")).action(async (options, command: Command) => {
        await planCommand(globals(command), options);
      });
    },
    deploy: () => {
      planOptions(program.command("deploy").description("plan, then run the steps whose inputs changed, saving state after each"))
        .option("--dry-run", "plan only; take no lock and change nothing")
        .option("-y, --auto-approve", "do not ask for confirmation in a terminal; approve removals (needed for them without a terminal)")
        .action(async (options, command: Command) => {
          await deployCommand(globals(command), options);
        });
    },
    init: () => {
      program
        .command("init")
        .description("set up a site: stepwise.yaml, package.json, stepwise.schema.json for editors, .gitignore")
        .option("--name <name>", "site name (default: the directory name)")
        .addOption(new Option("--target <name>", "where it deploys (optional: none lists no target)").choices(["podman", "azure", "none"]))
        .option("--plugin <package>", "a plugin package to list and depend on (repeatable), e.g. @stepwise/step-database", collect, [])
        .option("--force", "overwrite files that exist (stepwise.yaml, package.json, stepwise.schema.json)")
        .addHelpText(
          "after",
          `
Writes stepwise.yaml (with a yaml-language-server line naming ./stepwise.schema.json),
package.json (private; @stepwise/cli and the plugins at this stepwise's caret ranges),
stepwise.schema.json (core's; run stepwise schema after npm install to add the plugins' keys)
and adds .stepwise/ and node_modules/ to .gitignore. Refuses a file that exists without --force.

Examples:
  stepwise init --target podman --plugin @stepwise/step-database
  stepwise init --target none`,
        )
        .action(async (options, command: Command) => {
          const { initCommand } = await import("./commands/init.js");
          await initCommand(globals(command), options);
        });
    },
    schema: () => {
      program
        .command("schema")
        .description("write the JSON Schema of this site's stepwise.yaml, with every plugin's config keys (for editors)")
        .option("-o, --output <file>", "where to write it, - for stdout", "stepwise.schema.json")
        .action(async (options, command: Command) => {
          const { schemaCommand } = await import("./commands/schema.js");
          await schemaCommand(globals(command), options);
        });
    },
    configure: () => {
      program
        .command("configure")
        .description("answer what the steps need (config and secrets); resumable, saves every answer at once")
        .option("--reset", "start over instead of continuing an interrupted session")
        .option("--status", "show progress per step and the next question, ask nothing")
        .option("--no-prompt-secrets", "do not ask for secrets (set them later with stepwise secrets set)")
        .option("-y, --auto-approve", "never prompt: record --set values and list what is missing")
        .addHelpText(
          "after",
          `
In a terminal, asks required settings first with defaults in brackets, then secrets
(hidden; leave empty to skip for now). Ctrl-C keeps every answer; run it again to continue.
Without a terminal (CI), asks nothing: --set values are written to stepwise.yaml and every
missing required value is listed in one error (exit 2).

Examples:
  stepwise configure
  stepwise configure --status
  stepwise configure --set email.provider=smtp --set email.smtp.host=mail.example.com`,
        )
        .action(async (options, command: Command) => {
          const { configureCommand } = await import("./commands/configure.js");
          await configureCommand(globals(command), options);
        });
    },
    status: () => {
      program
        .command("status")
        .description("what state says about each step, and what the target runs")
        .action(async (_options, command: Command) => {
          const { statusCommand } = await import("./commands/status.js");
          await statusCommand(globals(command));
        });
    },
    restart: () => {
      program
        .command("restart [service]")
        .description("restart one service, or every service of the site")
        .action(async (service: string | undefined, _options, command: Command) => {
          const { restartCommand } = await import("./commands/day2.js");
          await restartCommand(globals(command), service);
        });
    },
    logs: () => {
      program
        .command("logs <service>")
        .description("print a service's logs (secret values are redacted)")
        .option("-f, --follow", "keep printing new lines until Ctrl-C")
        .option("-n, --tail <lines>", "only the last N lines", (v) => parsePositive(v, "--tail"))
        .action(async (service: string, options, command: Command) => {
          const { logsCommand } = await import("./commands/day2.js");
          await logsCommand(globals(command), service, options);
        });
    },
    down: () => {
      program
        .command("down")
        .description("stop and remove what the site runs (volumes are kept unless --volumes)")
        .option("--volumes", "also remove the site's volumes: asks first (type the site name), writes a final backup, then deletes the data")
        .option("--no-final-backup", "do not write the final backup before deleting data")
        .option("-y, --auto-approve", "do not ask (needed to delete data without a terminal)")
        .action(async (options, command: Command) => {
          const { downCommand } = await import("./commands/day2.js");
          await downCommand(globals(command), options);
        });
    },
    backup: () => {
      const backup = program.command("backup").description("one archive with volume data, encrypted secrets and state");
      backup
        .command("create")
        .description("write a checked archive under .stepwise/backups/ (atomically)")
        .option("-o, --output <dir>", "directory for the archive")
        .action(async (options, command: Command) => {
          const { backupCreateCommand } = await import("./commands/day2.js");
          await backupCreateCommand(globals(command), options);
        });
      backup
        .command("list")
        .description("list archives and check each one")
        .option("--dir <dir>", "directory to look in")
        .action(async (options, command: Command) => {
          const { backupListCommand } = await import("./commands/day2.js");
          await backupListCommand(globals(command), options);
        });
      backup
        .command("restore <file>")
        .description("check an archive (manifest, checksums, site), say what it replaces and ask, save a copy of that, then restore volumes, secrets and state")
        .option("-y, --auto-approve", "do not ask (needed without a terminal)")
        .action(async (file: string, options, command: Command) => {
          const { backupRestoreCommand } = await import("./commands/day2.js");
          await backupRestoreCommand(globals(command), file, options);
        });
      backup
        .command("prune")
        .description("delete the oldest safety backups (written by down --volumes and backup restore); backup create's archives are never touched")
        .option("--keep <n>", "how many safety backups to keep", (v) => parseCount(v, "--keep"), 0)
        .option("-y, --auto-approve", "do not ask (needed without a terminal)")
        .action(async (options, command: Command) => {
          const { backupPruneCommand } = await import("./commands/day2.js");
          await backupPruneCommand(globals(command), options);
        });
    },
    state: () => {
      const state = program.command("state").description("inspect or repair the deployment state");
      state
        .command("show")
        .description("print the state document (it never holds secret values)")
        .action(async (_options, command: Command) => {
          const { stateShowCommand } = await import("./commands/state.js");
          await stateShowCommand(globals(command));
        });
      state
        .command("pull")
        .description("print the state document as stored (JSON, never a secret value), or write it to a file")
        .option("-o, --output <file>", "write it to this file instead (atomically, mode 0644)")
        .addHelpText(
          "after",
          `
Like terraform state pull: takes no lock, changes nothing. Exits 2 when there is no state yet.

Examples:
  stepwise state pull > state.json
  stepwise state pull -o backup/state.json
  stepwise state pull | jq '.steps | keys'`,
        )
        .action(async (options, command: Command) => {
          const { statePullCommand } = await import("./commands/state.js");
          await statePullCommand(globals(command), options);
        });
      state
        .command("push <file>")
        .description("replace the state with a document (from state pull; - reads stdin), under the state lock")
        .option("--force", "push a document of another lineage or site, or an older copy (lower serial)")
        .addHelpText(
          "after",
          `
The document is checked as state is read (an older format is migrated, a newer one refused).
Without --force, a document of another lineage or site, or with a serial lower than the
current one (someone deployed since it was pulled), is refused (exit 2) and nothing changes.
The written serial is one above both; a document equal to the state is not written. Prints
the steps added, removed and changed. Exits 3 while a deploy holds the lock.

Examples:
  stepwise state pull -o state.json && stepwise state push state.json
  stepwise state push copied-from-another-site.json --force
  stepwise state pull | jq 'del(.steps.web)' | stepwise state push -`,
        )
        .action(async (file: string, options, command: Command) => {
          const { statePushCommand } = await import("./commands/state.js");
          await statePushCommand(globals(command), file, options);
        });
      state
        .command("unlock")
        .description("break the state lock left by a run that is gone")
        .action(async (_options, command: Command) => {
          const { stateUnlockCommand } = await import("./commands/state.js");
          await stateUnlockCommand(globals(command));
        });
      state
        .command("history")
        .description("list the earlier states the backend keeps (each write keeps the one it replaces)")
        .action(async (_options, command: Command) => {
          const { stateHistoryCommand } = await import("./commands/state-history.js");
          await stateHistoryCommand(globals(command));
        });
      state
        .command("restore <number>")
        .description("make kept state N (from state history; 1 = newest) the current state, as a new write")
        .action(async (number: string, _options, command: Command) => {
          const { stateRestoreCommand } = await import("./commands/state-history.js");
          await stateRestoreCommand(globals(command), number);
        });
      state
        .command("migrate")
        .description("move the state to another backend under both locks, verify the copy, mark the old one as migrated")
        .requiredOption("--to <backend>", "azblob://ACCOUNT/CONTAINER/BLOB, file or file:PATH")
        .option("--force", "replace a state the target already holds")
        .addHelpText(
          "after",
          `
Examples:
  stepwise state migrate --to azblob://myaccount/stepwise-state/shop/state.json
  stepwise state migrate --to file`,
        )
        .action(async (options: { to: string; force?: boolean }, command: Command) => {
          const { stateMigrateCommand } = await import("./commands/state-history.js");
          await stateMigrateCommand(globals(command), options);
        });
    },
    plugin: () => {
      const plugin = program.command("plugin").description("write your own plugin");
      plugin
        .command("new <name>")
        .description("scaffold a plugin package (plain JS, a step with a config key, a secret and file inputs, tests with the conformance kit)")
        .addOption(new Option("--kind <kind>", "what the plugin adds").choices(["step", "target"]).default("step"))
        .option("--dir <dir>", "directory to create the package in (default: the current one)")
        .addHelpText(
          "after",
          `
Creates DIR/NAME (without the @scope) holding package.json (the stepwise-plugin keyword, a peer
range on @stepwise/core matching this stepwise), src/, a test using @stepwise/core/testing run
with node --test, and a README. Refuses a directory that exists and is not empty.

Examples:
  stepwise plugin new stepwise-step-hello
  stepwise plugin new @acme/stepwise-target-cloud --kind target --dir ~/src`,
        )
        .action(async (name: string, options, command: Command) => {
          const { pluginNewCommand } = await import("./commands/plugin-new.js");
          await pluginNewCommand(globals(command), name, options);
        });
    },
    plugins: () => {
      const plugins = program.command("plugins").description("plugins the site lists");
      plugins
        .command("list")
        .description("load and list the site's plugins with their versions and what they provide")
        .option("--available", "instead, list installed packages with the stepwise-plugin keyword that stepwise.yaml does not list")
        .action(async (options: { available?: boolean }, command: Command) => {
          const { pluginsListCommand } = await import("./commands/plugins.js");
          await pluginsListCommand(globals(command), options);
        });
      plugins
        .command("add")
        .argument("<package>", "npm package name, optionally with @version")
        .description("install a plugin with the site's package manager (from its lockfile) and list it under plugins: in stepwise.yaml")
        .action(async (spec: string, _options, command: Command) => {
          const { pluginsAddCommand } = await import("./commands/plugins-add.js");
          await pluginsAddCommand(globals(command), spec);
        });
    },
    secrets: () => {
      const secrets = program.command("secrets").description("the site's secrets (values are never printed)");
      secrets
        .command("list")
        .description("every secret the steps own: generated or provided, set or missing")
        .action(async (_options, command: Command) => {
          const { secretsListCommand } = await import("./commands/secrets.js");
          await secretsListCommand(globals(command));
        });
      secrets
        .command("set <name>")
        .description("set a secret from a hidden prompt, or from stdin when piped (never from argv)")
        .action(async (name: string, _options, command: Command) => {
          const { secretsSetCommand } = await import("./commands/secrets.js");
          await secretsSetCommand(globals(command), name);
        });
      secrets
        .command("verify")
        .description("decrypt the store and check every secret the site uses: required ones set, none too short")
        .addHelpText(
          "after",
          `
Reads the store (an unreadable store or a bad identity is exit 2) and checks every secret
that applies with the current settings: each required one you provide is set, none is too
short to be redacted. A generated secret not made yet is made on the next deploy (not a
problem). Exit 0 with a summary, or exit 2 listing each problem and the command that fixes
it. Never prints a value; takes no lock.

Examples:
  stepwise secrets verify
  stepwise secrets verify --json
  stepwise --set email.provider=ses secrets verify`,
        )
        .action(async (_options, command: Command) => {
          const { secretsVerifyCommand } = await import("./commands/secrets.js");
          await secretsVerifyCommand(globals(command));
        });
      secrets
        .command("rotate <name>")
        .description("replace a generated secret with a new random value; the steps that use it run on the next deploy")
        .action(async (name: string, _options, command: Command) => {
          const { secretsRotateCommand } = await import("./commands/secrets.js");
          await secretsRotateCommand(globals(command), name);
        });
    },
  };
  if (only !== undefined && Object.hasOwn(commands, only)) commands[only]!();
  else for (const register of Object.values(commands)) register();
  return program;
}

function globals(command: Command): GlobalOptions {
  const options = command.optsWithGlobals() as Record<string, unknown>;
  return {
    site: String(options.site ?? process.cwd()),
    sets: (options.set as string[] | undefined) ?? [],
    preset: options.preset as GlobalOptions["preset"],
    json: options.json === true,
    verbose: options.verbose === true,
    lockWaitMs: options.lockWait as number | undefined,
  };
}

/** `90`, `90s`, `5m`, `1h`, `500ms` -> milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new CommanderError(2, "stepwise.usage", `${flag} expects a duration such as 30s, 5m or 1h, got "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(match[1]) * unit);
}

function parsePositive(value: string, flag: string): number {
  return parseCount(value, flag, 1);
}

function parseCount(value: string, flag: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CommanderError(2, "stepwise.usage", `${flag} expects a whole number >= ${min}, got "${value}"`);
  return n;
}

/**
 * Runs the CLI; returns the exit code. The one place errors become exit codes. `only` is the
 * command the arguments name when they ask for no help (see `scanArgs`), so that only it is
 * registered; without it, every command is.
 */
export async function run(argv: readonly string[], only?: string): Promise<number> {
  const json = argv.includes("--json");
  const printed: string[] = [];
  const program = buildProgram(only, json ? (text) => void printed.push(text) : undefined);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    // `--help --json` and `--version --json`: the text commander wrote, as one JSON document.
    if (json && error instanceof CommanderError && (error.code === "commander.helpDisplayed" || error.code === "commander.version")) {
      const text = printed.join("");
      process.stdout.write(`${JSON.stringify(error.code === "commander.version" ? { version: text.trim() } : { help: text }, null, 2)}\n`);
      return 0;
    }
    return handleError(error, { json, verbose: argv.includes("--verbose") || argv.includes("-v"), version: pkg.version });
  }
}
