/** How {@link writeFileAtomically} writes: `mode` is applied even to an existing file. */
export interface AtomicWriteOptions {
  mode?: number;
  fsync?: boolean;
}

/**
 * write-file-atomic (temp file + fsync + rename), loaded on the first write: a plan writes
 * only its caches (cache/replace-cache-file.ts), so it does not pay for the module and its
 * signal-exit dependency.
 */
export async function writeFileAtomically(file: string, data: string | Buffer, options?: AtomicWriteOptions): Promise<void> {
  const { default: writeFileAtomic } = await import("write-file-atomic");
  await writeFileAtomic(file, data, options);
}
