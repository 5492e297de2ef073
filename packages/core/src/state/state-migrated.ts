import type { StateDocument } from "../contracts.js";
import { errors } from "../errors/error-codes.js";

/** How many earlier documents a state backend keeps for `state history` / `state restore`. */
export const STATE_HISTORY_KEEP = 50;

/**
 * What stepwise.yaml says to use the state at `to` (a `migratedTo` value:
 * `azblob://ACCOUNT/CONTAINER/BLOB`, or `file:PATH` relative to the site).
 */
export function stateSettingFor(to: string): string {
  const azblob = /^azblob:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(to);
  if (azblob) return `plugins: [@stepwise/state-azblob] and state: { backend: azblob, options: { account: ${azblob[1]}, container: ${azblob[2]}, blob: ${azblob[3]} } }`;
  const file = to.startsWith("file:") ? to.slice("file:".length) : to;
  return file === ".stepwise/state.json" ? "state: { backend: file }" : `state: { backend: file, options: { path: ${file} } }`;
}

/** Refuses (exit 2) a document `state migrate` left behind, naming where the state went, unless `allow`. */
export function refuseMigrated(state: StateDocument | undefined, location: string, allow: boolean | undefined): void {
  if (state?.migratedTo !== undefined && !allow) throw errors.stateMigrated(location, state.migratedTo, stateSettingFor(state.migratedTo));
}
