import type { PresetName } from "@stepwise/core";

/** Options every command accepts. */
export interface GlobalOptions {
  site: string;
  sets: string[];
  preset: PresetName | undefined;
  json: boolean;
  verbose: boolean;
}
