/**
 * The pages of an inode read a page at a time (the packed inode, the metabox) that a
 * kernel mount holds after the reads made so far: those its reads asked for and those its
 * READMORE gathered with them, once decoded. The vfs fills such an inode further ahead
 * than the kernel reads it, so its own cache holds more; where a kernel read's outcome
 * depends on which pages are held already (a read_folio decodes an extent only up to the
 * highest page it still has to read: see extentsReadToEnd), this is the one to ask.
 *
 * A bit per page, in chunks made as pages are met: the inode's size comes from the image
 * and may claim any length, so only the pages read cost memory (512 bytes per 16 MiB).
 */
export class KernelPages {
  readonly #chunks = new Map<number, Uint8Array>();

  has(page: number): boolean {
    const chunk = this.#chunks.get(Math.floor(page / CHUNK_PAGES));
    const bit = page % CHUNK_PAGES;
    return chunk !== undefined && (chunk[bit >>> 3]! & (1 << (bit & 7))) !== 0;
  }

  /** Marks pages [first, end) held. */
  add(first: number, end: number): void {
    for (let page = first; page < end; page++) {
      const key = Math.floor(page / CHUNK_PAGES);
      let chunk = this.#chunks.get(key);
      if (!chunk) this.#chunks.set(key, (chunk = new Uint8Array(CHUNK_PAGES / 8)));
      const bit = page % CHUNK_PAGES;
      chunk[bit >>> 3]! |= 1 << (bit & 7);
    }
  }
}

/** Pages per chunk of bits: 16 MiB of the inode. */
const CHUNK_PAGES = 4096;
