import type { PresetName } from "@stepwise/core/engine";

/** Options every command accepts. */
export interface GlobalOptions {
  site: string;
  sets: string[];
  preset: PresetName | undefined;
  json: boolean;
  verbose: boolean;
}
