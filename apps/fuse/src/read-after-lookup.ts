/**
 * A file looked up is mostly read next: a program opens a path and reads it (cat, cp, a
 * module loader, a walk over a list of paths). Between the reply to its LOOKUP and the
 * READ that follows, the caller wakes, makes the inode, opens the file and reads: ~20 µs
 * on the benchmark VM, in which the daemon would only wait. So once a LOOKUP of a small
 * file is answered, its first bytes are read then, and the READ that follows finds them
 * ready (or on their way).
 *
 * It guesses only while guesses pay: each lookup of a file is scored by whether the file
 * was read before the next lookup, and with fewer than HITS_NEEDED of the last 8 read
 * (`ls -l`, `stat`, `find -type f`: lookups without reads), nothing is read ahead. A
 * guess that missed costs one read of a small file, done while the daemon was idle.
 */
import type { Inode } from "@erofs-ts/vfs";

/** Files up to this size are read ahead whole: one READ brings them (the kernel asks for up to 1 MiB). */
export const READ_AHEAD_MAX_BYTES = 128 << 10;
/** Of the last 8 files looked up, how many must have been read for the next to be read ahead. */
const HITS_NEEDED = 6;

/** Reads a file's first `size` bytes; resolves null when they cannot be read (the READ then reads again and answers the error). */
export type ReadAhead = (inode: Inode, size: number) => Promise<Uint8Array | null>;

interface Guess {
  readonly nid: bigint;
  readonly data: Promise<Uint8Array | null>;
}

export class ReadAfterLookup {
  readonly #read: ReadAhead;
  /** Called with a guess's bytes that no READ took (to give its buffer back). */
  readonly #discard: (data: Uint8Array) => void;
  /** The last 8 files looked up, newest in bit 0: 1 = read before the next lookup. Starts trusting. */
  #history = 0xff;
  /** The file looked up last, and whether it has been read since. */
  #last: bigint | null = null;
  #lastRead = false;
  /** Looked up and answered, not read ahead yet (see replied). */
  #armed: Inode | null = null;
  #guess: Guess | null = null;
  #started = 0;
  #taken = 0;

  constructor(read: ReadAhead, discard: (data: Uint8Array) => void) {
    this.#read = read;
    this.#discard = discard;
  }

  /** A LOOKUP found this regular file (its reply not sent yet). */
  lookedUp(inode: Inode): void {
    if (this.#last !== null) this.#history = ((this.#history << 1) | (this.#lastRead ? 1 : 0)) & 0xff;
    this.#last = inode.nid;
    this.#lastRead = false;
    this.#armed = inode.size > 0 && inode.size <= READ_AHEAD_MAX_BYTES && popcount(this.#history) >= HITS_NEEDED ? inode : null;
  }

  /** A reply was written: the moment to start the read of an answered lookup. */
  replied(): void {
    const inode = this.#armed;
    if (!inode) return;
    this.#armed = null;
    this.#drop();
    this.#started++;
    this.#guess = { nid: inode.nid, data: this.#read(inode, inode.size) };
  }

  /** Files read ahead so far, and how many of them a READ took. */
  get counts(): { started: number; taken: number } {
    return { started: this.#started, taken: this.#taken };
  }

  /**
   * A READ from offset 0: the bytes read ahead for this file, if any (whole, from
   * offset 0; the caller takes what it asked for), else null.
   */
  take(nid: bigint): Promise<Uint8Array | null> | null {
    if (nid === this.#last) this.#lastRead = true;
    const guess = this.#guess;
    if (guess?.nid !== nid) return null;
    this.#guess = null;
    this.#taken++;
    return guess.data;
  }

  /** Lets an untaken guess go (its buffer back once its read is done). */
  #drop(): void {
    const old = this.#guess;
    this.#guess = null;
    if (old) void old.data.then((data) => data && this.#discard(data));
  }
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b; b &= b - 1) n++;
  return n;
}
