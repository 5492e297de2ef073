/**
 * The images a Containerfile builds FROM: each `FROM` that names an image (not `scratch`, not
 * an earlier stage), with `$ARG`, `${ARG}` and `${ARG:-default}` replaced from the build
 * args and the `ARG` defaults declared before the first `FROM`, as the builder replaces them.
 * A reference that still holds an unset variable is left out: the build will say what is wrong.
 */
export function containerfileBases(text: string, buildArgs: Readonly<Record<string, string | number | boolean>> = {}): string[] {
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const bases: string[] = [];
  let seenFrom = false;
  for (const line of logicalLines(text)) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const instruction = match[1]!.toUpperCase();
    const rest = match[2]!.trim();
    if (instruction === "ARG" && !seenFrom) {
      for (const declaration of rest.split(/\s+/)) {
        const eq = declaration.indexOf("=");
        const name = eq < 0 ? declaration : declaration.slice(0, eq);
        const fallback = eq < 0 ? undefined : unquote(declaration.slice(eq + 1));
        const given = buildArgs[name];
        if (given !== undefined) args.set(name, String(given));
        else if (fallback !== undefined) args.set(name, fallback);
      }
    } else if (instruction === "FROM") {
      seenFrom = true;
      const words = rest.split(/\s+/).filter((word) => !word.startsWith("--"));
      const image = substitute(words[0] ?? "", args);
      // A name of an earlier stage is that stage, not an image (this line's own name counts after it).
      const isImage = image !== undefined && image !== "" && image.toLowerCase() !== "scratch" && !stages.has(image.toLowerCase());
      if (words.length >= 3 && words[1]!.toUpperCase() === "AS") stages.add(words[2]!.toLowerCase());
      if (isImage && !bases.includes(image)) bases.push(image);
    }
  }
  return bases;
}

/** Lines with `\` continuations joined, comments and blank lines dropped. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(pending + line);
    pending = "";
  }
  if (pending) out.push(pending);
  return out;
}

function substitute(value: string, args: ReadonlyMap<string, string>): string | undefined {
  let unresolved = false;
  const result = value.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (_, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const found = args.get(name);
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    unresolved = true;
    return "";
  });
  return unresolved ? undefined : result;
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}
