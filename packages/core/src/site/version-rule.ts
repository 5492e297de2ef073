/** Format version of `stepwise.yaml` this stepwise reads (MAJOR.MINOR). */
export const SITE_SCHEMA_VERSION = "0.1";

/**
 * The one compatibility rule for versioned files (site files, template folders): a reader
 * of version X.Y accepts files of the same major X and a minor not newer than Y. Patch
 * versions never matter (0.1.0 reads 0.1.7; 0.1.0 refuses 0.2.0; 0.2.0 reads 0.1.0).
 * Returns what is wrong, or `undefined` when compatible.
 */
export function checkVersionCompatible(readerVersion: string, fileVersion: string): string | undefined {
  const reader = parseMajorMinor(readerVersion);
  const file = parseMajorMinor(fileVersion);
  if (!reader || !file) return `"${fileVersion}" is not a MAJOR.MINOR[.PATCH] version`;
  if (file.major !== reader.major) return `major version ${file.major} differs from ${reader.major}`;
  if (file.minor > reader.minor) return `minor version ${file.major}.${file.minor} is newer than ${reader.major}.${reader.minor}`;
  return undefined;
}

function parseMajorMinor(version: string): { major: number; minor: number } | undefined {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$/.exec(version.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}
