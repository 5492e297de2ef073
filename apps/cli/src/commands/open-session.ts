import { SiteSession, type EngineEvent } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";

/**
 * Opens the site named by the global options (stepwise.yaml, plugins, config). Without
 * `onEvent`, warnings (e.g. a stale lock taken over by `secrets set`) go to stderr.
 */
export function openSession(globals: GlobalOptions, onEvent: (event: EngineEvent) => void = printWarning): Promise<SiteSession> {
  return SiteSession.open({ dir: globals.site, sets: globals.sets, preset: globals.preset, env: process.env, onEvent, lockWaitMs: globals.lockWaitMs });
}

function printWarning(event: EngineEvent): void {
  if (event.type === "warning") process.stderr.write(`warning: ${event.message}\n`);
}

/** Prints a JSON document on stdout with every known secret value redacted. */
export function printJson(session: SiteSession | undefined, value: unknown): void {
  process.stdout.write(jsonText(session, value));
}

/** What {@link printJson} prints. */
export function jsonText(session: SiteSession | undefined, value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return `${session ? session.redactor.redact(text) : text}\n`;
}
