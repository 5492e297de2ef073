/**
 * The files one step's globs select, in path order, with their content ids: the step's
 * `file:<path>` input entries, held as two arrays rather than thousands of object keys.
 *
 * A site of 20,000 files gives 20,000 such entries per plan. As object keys they cost a
 * dictionary object per step to build, compare and fingerprint, and as JSON keys in state
 * they made the state file the slowest thing a no-op plan read. Here they stay in the order
 * the listing produced them, are hashed as one string, and go into state as one string
 * ({@link StepFiles.encode}).
 */
export class StepFiles implements Iterable<[string, string]> {
  static readonly EMPTY = new StepFiles([], []);

  private mapCache: Map<string, string> | undefined;
  private textCache: string | undefined;
  private pathList: readonly string[] | undefined;
  private idList: readonly string[] | undefined;
  private encodedForm: string | undefined;
  private storedRef: string | undefined;
  private pending = false;

  /** `paths` sorted by code unit (as `<` sorts strings), `ids[i]` the content id of `paths[i]`. */
  constructor(paths: readonly string[], ids: readonly string[]) {
    this.pathList = paths;
    this.idList = ids;
  }

  /** Paths in code-unit order. */
  get paths(): readonly string[] {
    if (this.pathList === undefined) this.decodeNow();
    return this.pathList!;
  }

  /** `ids[i]` is the content id of `paths[i]`. */
  get ids(): readonly string[] {
    if (this.idList === undefined) this.decodeNow();
    return this.idList!;
  }

  get size(): number {
    return this.paths.length;
  }

  /**
   * {@link encode}'s form, read only when something asks for the files: a plan that finds a
   * step unchanged without listing its files (see `openSiteFileInputs`) takes them from state
   * this way, and a skipped step never decodes them.
   */
  static lazy(encoded: string): StepFiles {
    if (encoded === "") return StepFiles.EMPTY;
    const files = new StepFiles([], []);
    files.pathList = undefined;
    files.idList = undefined;
    files.encodedForm = encoded;
    return files;
  }

  /**
   * A listing known only by its content address (an object of the state backend), not read
   * yet: {@link ref} is set; reading its files before {@link fromStore} replaced it is a bug.
   */
  static stored(ref: string): StepFiles {
    const files = new StepFiles([], []);
    files.pathList = undefined;
    files.idList = undefined;
    files.storedRef = ref;
    files.pending = true;
    return files;
  }

  /** The listing read from the object store under `ref` (its text's sha256). */
  static fromStore(ref: string, encoded: string): StepFiles {
    const files = encoded === "" ? new StepFiles([], []) : StepFiles.lazy(encoded);
    files.storedRef = ref;
    return files;
  }

  /** The content address of this listing when it is in the object store (read from it, or known to be there). */
  get ref(): string | undefined {
    return this.storedRef;
  }

  /** True for a {@link stored} listing whose files were not read. */
  get unread(): boolean {
    return this.pending;
  }

  private decodeNow(): void {
    if (this.pending) throw new Error(`file listing ${this.storedRef} was used before it was read from the object store`);
    const decoded = StepFiles.decode(this.encodedForm ?? "");
    this.pathList = decoded.paths;
    this.idList = decoded.ids;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.paths.length; i++) yield [this.paths[i]!, this.ids[i]!];
  }

  /** Path -> content id, built on first use (a step that runs or checks drift). */
  toMap(): ReadonlyMap<string, string> {
    return (this.mapCache ??= new Map(this));
  }

  /**
   * The bytes {@link computeInputFingerprint} hashes for these files' `file:<path>` entries, in
   * their sorted place: `file:<path>\0<id>\n` per file.
   */
  fingerprintText(): string {
    if (this.textCache === undefined) {
      const parts = new Array<string>(this.paths.length);
      for (let i = 0; i < parts.length; i++) parts[i] = `file:${this.paths[i]!}\0${this.ids[i]!}\n`;
      this.textCache = parts.join("");
    }
    return this.textCache;
  }

  /**
   * The form kept in state: one `<id> <path>\n` line per file. A backslash or newline in a path
   * is written as `\\` or `\n`, so every line is one file. JSON.parse reads the string in about
   * a millisecond where the same entries as object keys took ten.
   */
  encode(): string {
    if (this.pending) this.decodeNow();
    if (this.encodedForm !== undefined) return this.encodedForm;
    const parts = new Array<string>(this.paths.length);
    for (let i = 0; i < parts.length; i++) parts[i] = `${this.ids[i]!} ${escapePath(this.paths[i]!)}\n`;
    return parts.join("");
  }

  /**
   * Reads {@link encode}'s form. Never throws: a line without a space (a hand-edited state) reads
   * as a path with an empty id, so it shows as modified and the step runs.
   */
  static decode(text: string): StepFiles {
    const paths: string[] = [];
    const ids: string[] = [];
    for (let at = 0; at < text.length; ) {
      let end = text.indexOf("\n", at);
      if (end < 0) end = text.length;
      if (end === at) {
        at++;
        continue;
      }
      let space = text.indexOf(" ", at);
      if (space < 0 || space > end) space = at - 1;
      ids.push(text.slice(at, Math.max(at, space)));
      const file = text.slice(space + 1, end);
      paths.push(file.includes("\\") ? unescapePath(file) : file);
      at = end + 1;
    }
    return new StepFiles(paths, ids);
  }

  /** Files added, removed and modified going from `previous` to this; each list in path order. */
  changesSince(previous: StepFiles): { added: string[]; removed: string[]; modified: string[] } {
    const added: string[] = [];
    const removed: string[] = [];
    const modified: string[] = [];
    const [before, after] = [previous.paths, this.paths];
    let i = 0;
    let j = 0;
    while (i < before.length || j < after.length) {
      if (j >= after.length || (i < before.length && before[i]! < after[j]!)) removed.push(before[i++]!);
      else if (i >= before.length || after[j]! < before[i]!) added.push(after[j++]!);
      else {
        if (previous.ids[i] !== this.ids[j]) modified.push(after[j]!);
        i++;
        j++;
      }
    }
    return { added, removed, modified };
  }
}

function escapePath(file: string): string {
  return file.includes("\\") || file.includes("\n") ? file.replaceAll("\\", "\\\\").replaceAll("\n", "\\n") : file;
}

function unescapePath(file: string): string {
  return file.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"));
}
