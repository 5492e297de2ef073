import type { PresetName } from "@stepwise/core/engine";

/** Options every command accepts. */
export interface GlobalOptions {
  site: string;
  sets: string[];
  preset: PresetName | undefined;
  json: boolean;
  verbose: boolean;
  /** `--lock-wait`: how long to wait for a held state lock (ms) instead of exiting 3. */
  lockWaitMs?: number;
}
