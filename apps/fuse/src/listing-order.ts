/**
 * The order in which the kernel was given each directory's entries, kept to answer one
 * question: which file comes right after this one? Programs that go through a tree
 * (cp -r, tar, rsync, a walk reading what `find` listed) read a directory's files in
 * listing order, so the next file is worth reading ahead (see ReadAhead).
 *
 * Memory is bounded: up to MAX_FILES files in all (~100 bytes of heap each, 1.6 MB in
 * all); past that the oldest listings are forgotten first. Files are kept by nidKey, so
 * no BigInt object per file.
 */

import { nidKey, nidOfKey } from "@erofs-ts/vfs";

/** Files remembered in all listings. */
const MAX_FILES = 16384;
/** EROFS_FT_REG_FILE: only regular files are read ahead. */
const REGULAR_FILE = 1;

/** One entry of a listing page as the server gave it to the kernel. */
export interface ListedEntry {
  readonly nid: bigint;
  readonly fileType: number;
  /** The position after this entry: where the next page starts when it is a page's last. */
  readonly next: number;
}

type FileKey = number | bigint;

interface Listing {
  /** Regular files, each followed by the file listed right after it (or null). */
  readonly files: FileKey[];
  /** Where the next page must start to continue this listing. */
  nextPosition: number;
  /** The last entry recorded, if it was a regular file: the next page's first entry follows it. */
  lastFile: FileKey | null;
}

export class ListingOrder {
  /** By directory nid, oldest listed first (a Map keeps insertion order). */
  readonly #listings = new Map<FileKey, Listing>();
  /** Each remembered file's successor in its listing: a regular file, or null for anything else. */
  readonly #next = new Map<FileKey, FileKey | null>();

  /** A listing page the kernel was given; a page from position 0 starts the listing afresh. */
  listed(dirNid: bigint, start: number, entries: readonly ListedEntry[]): void {
    if (entries.length === 0) return;
    const dir = nidKey(dirNid);
    let listing = this.#listings.get(dir);
    if (start === 0) {
      if (listing) this.#forget(dir, listing);
      listing = { files: [], nextPosition: 0, lastFile: null };
      this.#listings.set(dir, listing);
    } else if (!listing || listing.nextPosition !== start) {
      // Not the page after the last one recorded (a seek, or a listing begun before this
      // daemon saw it): where its entries stand relative to the rest is unknown.
      return;
    }
    for (const e of entries) {
      const file = e.fileType === REGULAR_FILE ? nidKey(e.nid) : null;
      if (listing.lastFile !== null) this.#next.set(listing.lastFile, file);
      // A file listed under two names (a hard link) keeps its first place.
      listing.lastFile = file !== null && !this.#next.has(file) ? file : null;
      if (listing.lastFile !== null) {
        listing.files.push(file!);
        this.#next.set(file!, null);
      }
      listing.nextPosition = e.next;
    }
    for (const [oldest, kept] of this.#listings) {
      if (this.#next.size <= MAX_FILES || kept === listing) break;
      this.#forget(oldest, kept);
    }
  }

  /** The regular file listed right after this one, or null (unknown, last, or followed by a non-file). */
  nextAfter(nid: bigint): bigint | null {
    const next = this.#next.get(nidKey(nid));
    return next == null ? null : nidOfKey(next);
  }

  /** Files remembered (for the tests). */
  get size(): number {
    return this.#next.size;
  }

  #forget(dir: FileKey, listing: Listing): void {
    this.#listings.delete(dir);
    for (const nid of listing.files) this.#next.delete(nid);
  }
}
