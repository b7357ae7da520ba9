/**
 * Storage for cached pages in a few large buffers ("slabs") instead of a buffer per fill.
 *
 * Every ArrayBuffer costs a JavaScript object and a native record besides its bytes: a
 * cache of app-a + app-b (~30,000 pages of ~4,200 files) held ~16,000 buffers, and ~1 MB
 * more JavaScript heap than in slabs. As the fills' buffers are no longer kept, the vfs
 * fills into one reused scratch buffer.
 *
 * Full pages go to frames of page slabs, reused as they are freed. Shorter pages (a
 * file's last) are packed one after another into tail slabs, each rounded up to ALIGN
 * bytes only. Frames of a few sizes (steps of 256 bytes, as this store first kept tails)
 * wasted ~128 bytes a tail, plus a part-used slab per size: measured on app-a + app-b read
 * through two sharing mounts (5,621 distinct tails), 1.53 MB of slab bytes held no page
 * bytes, against 0.21 MB packed. A packed tail's room is taken again only when it was the
 * latest one put in its slab, or when its whole slab empties; the budget counts
 * whole slabs, so holes cannot outgrow it.
 */

import { recycleSlab, reuseSlab } from "./slab-recycler.js";

/** Packed tails start at multiples of this. */
export const ALIGN = 16;
/**
 * Bytes of a page slab at most: glibc's mmap threshold as erofs-fuse fixes it (its default
 * start), so a slab is a mapping of its own and a freed one goes back to the system.
 */
export const MAX_SLAB_BYTES = 128 * 1024;
/** Bytes of a tail slab at most (small: one live tail keeps its whole slab). */
const TAIL_SLAB_BYTES = 16 * 1024;
/**
 * Tail slabs filled at once. With one, each slab's end stayed empty whenever the next
 * tail did not fit (tails run up to 4 KiB): 0.66 MB of slab bytes held no page bytes in
 * the app-a + app-b measure above, against 0.21 MB with four open, whose ends shorter
 * tails fill.
 */
const OPEN_TAIL_SLABS = 4;

interface PageSlab {
  readonly buffer: ArrayBuffer;
  /** Frames never handed out yet start here (most slabs fill this way and never free). */
  unused: number;
  /** Frames handed out and given back since, as frame numbers. */
  readonly freed: number[];
  live: number;
}

interface TailSlab {
  readonly buffer: ArrayBuffer;
  /** Where the next tail goes, in bytes. */
  top: number;
  live: number;
}

export class SlabStore {
  readonly #pageSlabs = new Map<ArrayBufferLike, PageSlab>();
  /** Page slabs with a free frame. */
  readonly #roomy = new Set<PageSlab>();
  readonly #tailSlabs = new Map<ArrayBufferLike, TailSlab>();
  /** Tail slabs being filled, oldest first: a tail goes to the first with room for it. */
  #open: TailSlab[] = [];
  readonly #pageSize: number;
  readonly #slabSize: number;
  readonly #tailSlabSize: number;
  #slabBytes = 0;

  /** `slabSize`: bytes of each page slab, a multiple of `pageSize` (itself a multiple of ALIGN). */
  constructor(pageSize: number, slabSize: number) {
    if (pageSize % ALIGN !== 0 || slabSize % pageSize !== 0 || slabSize <= 0) {
      throw new RangeError(`pages of ${pageSize} bytes in slabs of ${slabSize}`);
    }
    this.#pageSize = pageSize;
    this.#slabSize = slabSize;
    // Every tail slab has the same size, so a recycled one fits any.
    this.#tailSlabSize = Math.min(slabSize, TAIL_SLAB_BYTES);
  }

  /** Copies `data` (at most a page) into a slab; returns the copy, a view into its slab. */
  copy(data: Uint8Array): Uint8Array {
    if (data.length === this.#pageSize) return this.#copyPage(data);
    if (!(data.length < this.#pageSize)) throw new RangeError(`a page of ${data.length} bytes`);
    return this.#copyTail(data);
  }

  /**
   * Gives back the room of a copy. A slab left empty leaves slabBytes and is recycled
   * (see slab-recycler.ts): a reader that takes every page it is served (erofs-fuse,
   * fsck, a stream) empties the cache again and again, and refills it.
   */
  release(copy: Uint8Array): void {
    const page = this.#pageSlabs.get(copy.buffer);
    if (page) return this.#releasePage(page, copy);
    const tail = this.#tailSlabs.get(copy.buffer);
    if (!tail) throw new Error("release of bytes that are not in a slab");
    tail.live--;
    // The latest tail of its slab: the next one takes its room.
    if (copy.byteOffset + aligned(copy.length) === tail.top) tail.top = copy.byteOffset;
    if (tail.live > 0) return;
    const open = this.#open.indexOf(tail);
    if (open >= 0) this.#open.splice(open, 1);
    this.#tailSlabs.delete(tail.buffer);
    this.#let(tail.buffer);
  }

  /**
   * Gives back every page at once (the cache emptied whole): each slab goes to the
   * recycler as release() of its last page would send it, without a call per page.
   */
  releaseAll(): void {
    for (const buffer of this.#pageSlabs.keys()) recycleSlab(buffer as ArrayBuffer);
    for (const buffer of this.#tailSlabs.keys()) recycleSlab(buffer as ArrayBuffer);
    this.#pageSlabs.clear();
    this.#tailSlabs.clear();
    this.#roomy.clear();
    this.#open = [];
    this.#slabBytes = 0;
  }

  /** Bytes of all slabs in use (their free room included; recycled ones not). */
  get slabBytes(): number {
    return this.#slabBytes;
  }

  #copyPage(data: Uint8Array): Uint8Array {
    let slab: PageSlab | undefined = this.#roomy.values().next().value;
    if (!slab) {
      slab = { buffer: this.#take(this.#slabSize), unused: 0, freed: [], live: 0 };
      this.#pageSlabs.set(slab.buffer, slab);
      this.#roomy.add(slab);
    }
    const frame = slab.freed.length > 0 ? slab.freed.pop()! : slab.unused++;
    slab.live++;
    if (slab.freed.length === 0 && (slab.unused + 1) * this.#pageSize > slab.buffer.byteLength) this.#roomy.delete(slab);
    return place(data, slab.buffer, frame * this.#pageSize);
  }

  #releasePage(slab: PageSlab, copy: Uint8Array): void {
    slab.freed.push(copy.byteOffset / this.#pageSize);
    slab.live--;
    if (slab.live > 0) {
      this.#roomy.add(slab);
      return;
    }
    this.#roomy.delete(slab);
    this.#pageSlabs.delete(slab.buffer);
    this.#let(slab.buffer);
  }

  #copyTail(data: Uint8Array): Uint8Array {
    const room = aligned(data.length);
    let slab = this.#open.find((s) => s.top + room <= s.buffer.byteLength);
    if (!slab) {
      // The oldest open slab is filled no further; it stays while a tail in it lives.
      if (this.#open.length === OPEN_TAIL_SLABS) this.#open.shift();
      slab = { buffer: this.#take(this.#tailSlabSize), top: 0, live: 0 };
      this.#tailSlabs.set(slab.buffer, slab);
      this.#open.push(slab);
    }
    const at = slab.top;
    slab.top += room;
    slab.live++;
    return place(data, slab.buffer, at);
  }

  /** A slab's buffer: a recycled one or a new one. */
  #take(bytes: number): ArrayBuffer {
    // A recycled slab holds stale bytes (another cache's, maybe): each page is written
    // before it is read, and read only as long as written.
    const buffer = reuseSlab(bytes) ?? new ArrayBuffer(bytes);
    this.#slabBytes += bytes;
    return buffer;
  }

  /** An emptied slab leaves the store, for the recycler. */
  #let(buffer: ArrayBuffer): void {
    this.#slabBytes -= buffer.byteLength;
    recycleSlab(buffer);
  }
}

/** Room a tail takes: its length rounded up to ALIGN, and ALIGN for an empty page, so that no two tails start at one offset. */
function aligned(length: number): number {
  return Math.max(ALIGN, Math.ceil(length / ALIGN) * ALIGN);
}

function place(data: Uint8Array, buffer: ArrayBuffer, at: number): Uint8Array {
  const out = new Uint8Array(buffer, at, data.length);
  out.set(data);
  return out;
}
