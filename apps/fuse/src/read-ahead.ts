/**
 * Reading a small file before its READ arrives, in time the daemon would spend waiting.
 * A program reading files one after another leaves the daemon idle twice per file: ~20 µs
 * on the benchmark VM after each reply, while the caller's thread wakes and makes its next
 * request. Two guesses fill those gaps:
 *
 * - **After a LOOKUP**: a program that opens a path reads it (cat, cp, a module loader, a
 *   walk over a list of paths). Once a file's LOOKUP is answered, its bytes are read; the
 *   READ that follows is answered with them.
 * - **After a READ**: a program going through a directory (cp -r, tar, a walk reading
 *   what `find` listed) reads its files in listing order. Once a READ from a file's start
 *   is answered, the file listed right after it is read (ListingOrder). When the listing
 *   was given with attributes (READDIRPLUS) the kernel sends no LOOKUP at all, and this
 *   is the only guess there is.
 *
 * Each is made only while it pays, judged on every lookup and read whether a guess was
 * made or not: with fewer than HITS_NEEDED of the last 8 files looked up then read
 * (`ls -l`, `stat`, `find`), or of the last 8 reads from a start that were of the file
 * listed after the one before (a program reading here and there), that guess is not made.
 * A wrong guess costs one read of a small file, made while the daemon was idle. One guess
 * is kept at a time.
 */

/** Files up to this size are read ahead whole: one READ brings them (the kernel asks for up to 1 MiB). */
export const READ_AHEAD_MAX_BYTES = 128 << 10;
/** Of the last 8 chances, how many must have been right for the next guess to be made. */
const HITS_NEEDED = 6;

/**
 * Reads a file's first bytes ahead (up to READ_AHEAD_MAX_BYTES); resolves null when the
 * file is not one to read ahead or cannot be read (its READ then reads it, and answers an
 * error).
 */
export type ReadFile = (nid: bigint) => Promise<Uint8Array | null>;

interface Guess {
  readonly nid: bigint;
  readonly data: Promise<Uint8Array | null>;
}

/** The last 8 outcomes of one kind of guess, newest in bit 0; starts trusting. */
class Record8 {
  #bits = 0xff;
  add(hit: boolean): void {
    this.#bits = ((this.#bits << 1) | (hit ? 1 : 0)) & 0xff;
  }
  get trusted(): boolean {
    let n = 0;
    for (let b = this.#bits; b; b &= b - 1) n++;
    return n >= HITS_NEEDED;
  }
}

export class ReadAhead {
  readonly #read: ReadFile;
  /** Called with a guess's bytes that no READ took (to give its buffer back). */
  readonly #discard: (data: Uint8Array) => void;
  /** The file listed after a file, if known. */
  readonly #nextInListing: (nid: bigint) => bigint | null;
  readonly #lookups = new Record8();
  readonly #siblings = new Record8();
  /** The file looked up last, and whether it has been read since. */
  #lastLookup: bigint | null = null;
  #lastLookupRead = false;
  /** The file listed after the one read last: the next read from a start, if the reader goes in order. */
  #expected: bigint | null = null;
  /** To read once the reply being written is out (see replied). */
  #armed: bigint | null = null;
  #guess: Guess | null = null;

  constructor(read: ReadFile, discard: (data: Uint8Array) => void, nextInListing: (nid: bigint) => bigint | null) {
    this.#read = read;
    this.#discard = discard;
    this.#nextInListing = nextInListing;
  }

  /** A LOOKUP found this regular file of `size` bytes (its reply not written yet). */
  lookedUp(nid: bigint, size: number): void {
    if (this.#lastLookup !== null) this.#lookups.add(this.#lastLookupRead);
    this.#lastLookup = nid;
    this.#lastLookupRead = false;
    // Already read ahead (as the file after the last one read): nothing more to do.
    if (this.#guess?.nid === nid) return;
    if (size > 0 && size <= READ_AHEAD_MAX_BYTES && this.#lookups.trusted) this.#armed = nid;
  }

  /**
   * A READ from a file's start: the bytes read ahead for it, if any (whole, from offset 0;
   * the caller takes what it asked for), else null.
   */
  take(nid: bigint): Promise<Uint8Array | null> | null {
    if (nid === this.#lastLookup) this.#lastLookupRead = true;
    if (this.#expected !== null) this.#siblings.add(nid === this.#expected);
    this.#expected = this.#nextInListing(nid);
    if (this.#expected !== null && this.#siblings.trusted && this.#expected !== this.#guess?.nid) this.#armed = this.#expected;
    const guess = this.#guess;
    if (guess?.nid !== nid) return null;
    this.#guess = null;
    return guess.data;
  }

  /** A reply was written: the moment to start what a LOOKUP or READ armed. */
  replied(): void {
    const nid = this.#armed;
    if (nid === null) return;
    this.#armed = null;
    this.#drop();
    this.#guess = { nid, data: this.#read(nid) };
  }

  /** Forgets the guess and what was armed, its buffer left to the garbage collector (the daemon is idle). */
  forget(): void {
    this.#armed = null;
    this.#guess = null;
  }

  /** Lets an untaken guess go (its buffer back once its read is done). */
  #drop(): void {
    const old = this.#guess;
    this.#guess = null;
    if (old) void old.data.then((data) => data && this.#discard(data));
  }
}
