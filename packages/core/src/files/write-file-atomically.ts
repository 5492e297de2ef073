import type { Options } from "write-file-atomic";

/**
 * write-file-atomic (temp file + fsync + rename), loaded on the first write: a plan writes
 * only its caches (cache/replace-cache-file.ts), so it does not pay for the module and its
 * signal-exit dependency.
 */
export async function writeFileAtomically(file: string, data: string | Buffer, options?: Options): Promise<void> {
  const { default: writeFileAtomic } = await import("write-file-atomic");
  await writeFileAtomic(file, data, options);
}
