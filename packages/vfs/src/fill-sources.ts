/**
 * For the pages of an inode read a page at a time (the packed inode, the metabox) that the
 * vfs has filled: the start of the extent each page's last byte was decoded from. A
 * kernel mount reads such a page when it is first asked for, mapping it then, so a page
 * filled ahead of the reads is good only while that map would find the same extent: on a
 * damaged index which extent a page gets depends on the order of the reads (see
 * pagesToRefill). Sound indexes give every page the extent its own map finds.
 *
 * A number per page, in chunks made as pages are met (the inode's size comes from the
 * image): 32 KiB per 16 MiB of the inode filled. NaN where nothing is known.
 */
export class FillSources {
  readonly #chunks = new Map<number, Float64Array>();

  get(page: number): number {
    return this.#chunks.get(Math.floor(page / CHUNK_PAGES))?.[page % CHUNK_PAGES] ?? NaN;
  }

  set(page: number, extentStart: number): void {
    const key = Math.floor(page / CHUNK_PAGES);
    let chunk = this.#chunks.get(key);
    if (!chunk) this.#chunks.set(key, (chunk = new Float64Array(CHUNK_PAGES).fill(NaN)));
    chunk[page % CHUNK_PAGES] = extentStart;
  }
}

/** Pages per chunk: 16 MiB of the inode. */
const CHUNK_PAGES = 4096;
