import { describeFoundLock, describeHolder } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { openSession, printJson } from "./open-session.js";

export async function stateShowCommand(globals: GlobalOptions): Promise<void> {
  const session = await openSession(globals);
  const { state } = await session.stateBackend.read();
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
