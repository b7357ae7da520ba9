/**
 * The pages of an inode read a page at a time (the packed inode, the metabox) that a
 * kernel mount holds after the reads made so far: those its reads asked for and those its
 * READMORE gathered with them, once decoded. The vfs fills such an inode further ahead
 * than the kernel reads it, so its own cache holds more; where a kernel read's outcome
 * depends on which pages are held already (a read_folio decodes an extent only up to the
 * highest page it still has to read: see extentsReadToEnd), this is the one to ask.
 *
 * A bit per page, grown as pages are met: 32 KiB for a 1 GiB inode.
 */
export class KernelPages {
  #bits = new Uint8Array(0);

  has(page: number): boolean {
    return ((this.#bits[page >>> 3] ?? 0) & (1 << (page & 7))) !== 0;
  }

  /** Marks pages [first, end) held. */
  add(first: number, end: number): void {
    if (end <= first) return;
    const need = (end + 7) >>> 3;
    if (need > this.#bits.length) {
      const grown = new Uint8Array(Math.max(need, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    for (let p = first; p < end; p++) this.#bits[p >>> 3]! |= 1 << (p & 7);
  }
}
