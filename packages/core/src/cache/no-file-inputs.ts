import { existsSync, rmSync } from "node:fs";
import { cachePath } from "./cache-file.js";
import { replaceCacheFile } from "./replace-cache-file.js";

/**
 * `no-file-inputs`: an empty file, present while the site's last plan found no step with file
 * inputs. The git listing would then be work for nothing (a site of services from registry
 * images), so the CLI does not start it. A stale marker costs only the prefetch; a missing one,
 * a listing nobody reads.
 */
export const NO_FILE_INPUTS = "no-file-inputs";

/** Whether the site's last plan found no file inputs (one `existsSync`: it runs before the CLI loads). */
export function hadNoFileInputs(siteDir: string): boolean {
  return existsSync(cachePath(siteDir, NO_FILE_INPUTS));
}

/** Records whether any step of the site declares file inputs. Never throws. */
export function markFileInputs(siteDir: string, present: boolean): void {
  const marker = cachePath(siteDir, NO_FILE_INPUTS);
  try {
    if (present) rmSync(marker, { force: true });
    else if (!existsSync(marker)) replaceCacheFile(marker, "");
  } catch {
    // Only a hint: a read-only site prefetches every time.
  }
}
