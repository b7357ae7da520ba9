/**
 * Storage for cached pages in a few large buffers ("slabs") instead of a buffer per fill.
 *
 * Every ArrayBuffer costs a JavaScript object and a native record besides its bytes: a
 * cache of app-a + app-b (~30,000 pages of ~4,200 files) held ~16,000 buffers, and ~1 MB
 * more JavaScript heap than in slabs. Here a page is copied into a frame of a slab:
 * frames come in sizes of whole granules (GRANULE bytes) up to a page, so a file's last,
 * short page takes little more than its length, and each size has slabs of its own. As
 * the fills' buffers are no longer kept, the vfs fills into one reused scratch buffer.
 */

import { recycleSlab, reuseSlab } from "./slab-recycler.js";

/** Frame sizes are multiples of this: a short page wastes less than one granule. */
export const GRANULE = 256;
/**
 * Bytes of a slab at most: glibc's mmap threshold as erofs-fuse fixes it (its default
 * start), so a slab is a mapping of its own and a freed one goes back to the system.
 */
export const MAX_SLAB_BYTES = 128 * 1024;
/** Bytes of a slab for frames shorter than a page. */
const TAIL_SLAB_BYTES = 16 * 1024;

interface Slab {
  readonly buffer: ArrayBuffer;
  readonly frameSize: number;
  /** Frames never handed out yet start here (most slabs fill this way and never free). */
  unused: number;
  /** Frames handed out and given back since, as frame numbers. */
  readonly freed: number[];
  live: number;
}

export class SlabStore {
  readonly #byBuffer = new Map<ArrayBufferLike, Slab>();
  /** Per frame size, the slabs that have a free frame. */
  readonly #roomy = new Map<number, Set<Slab>>();
  readonly #pageSize: number;
  readonly #slabSize: number;
  #slabBytes = 0;

  /** `slabSize`: bytes of each slab, a multiple of `pageSize` (itself a multiple of GRANULE). */
  constructor(pageSize: number, slabSize: number) {
    if (pageSize % GRANULE !== 0 || slabSize % pageSize !== 0 || slabSize <= 0) {
      throw new RangeError(`pages of ${pageSize} bytes in slabs of ${slabSize}`);
    }
    this.#pageSize = pageSize;
    this.#slabSize = slabSize;
  }

  /** The frame size that holds `length` bytes (at most a page; an empty page takes a granule). */
  frameSize(length: number): number {
    if (!(length >= 0 && length <= this.#pageSize)) throw new RangeError(`a page of ${length} bytes`);
    return Math.max(1, Math.ceil(length / GRANULE)) * GRANULE;
  }

  /** Copies `data` into a free frame; returns the copy, a view into its slab. */
  copy(data: Uint8Array): Uint8Array {
    const size = this.frameSize(data.length);
    const roomy = this.#roomyOf(size);
    let slab: Slab | undefined = roomy.values().next().value;
    if (!slab) roomy.add((slab = this.#newSlab(size)));
    const frame = slab.freed.length > 0 ? slab.freed.pop()! : slab.unused++;
    slab.live++;
    if (slab.freed.length === 0 && (slab.unused + 1) * size > slab.buffer.byteLength) roomy.delete(slab);
    const out = new Uint8Array(slab.buffer, frame * size, data.length);
    out.set(data);
    return out;
  }

  /**
   * Gives back the frame of a copy. A slab left empty leaves slabBytes and is recycled
   * (see slab-recycler.ts): a reader that takes every page it is served (erofs-fuse,
   * fsck, a stream) empties the cache again and again, and refills it.
   */
  release(copy: Uint8Array): void {
    const slab = this.#byBuffer.get(copy.buffer);
    if (!slab) throw new Error("release of bytes that are not in a slab");
    slab.freed.push(copy.byteOffset / slab.frameSize);
    slab.live--;
    const roomy = this.#roomyOf(slab.frameSize);
    if (slab.live > 0) {
      roomy.add(slab);
      return;
    }
    roomy.delete(slab);
    this.#byBuffer.delete(slab.buffer);
    this.#slabBytes -= slab.buffer.byteLength;
    recycleSlab(slab.buffer);
  }

  /**
   * Gives back every frame at once (the cache emptied whole): each slab goes to the
   * recycler as release() of its last frame would send it, without a call per frame.
   */
  releaseAll(): void {
    for (const buffer of this.#byBuffer.keys()) recycleSlab(buffer as ArrayBuffer);
    this.#byBuffer.clear();
    this.#roomy.clear();
    this.#slabBytes = 0;
  }

  /** Bytes of all slabs in use (their free frames included; recycled ones not). */
  get slabBytes(): number {
    return this.#slabBytes;
  }

  #roomyOf(size: number): Set<Slab> {
    let s = this.#roomy.get(size);
    if (!s) this.#roomy.set(size, (s = new Set()));
    return s;
  }

  #newSlab(frameSize: number): Slab {
    // Full pages get the large slabs; each shorter size (file tails) small ones, as a
    // partly used slab of every size is the store's slack.
    // Every tail slab has the same size (its last frame may stay unused), so a recycled one fits any.
    const bytes = frameSize === this.#pageSize ? this.#slabSize : Math.min(this.#slabSize, TAIL_SLAB_BYTES);
    // A recycled slab holds stale bytes (another cache's, maybe): each frame is written
    // before it is read, and read only as long as written.
    const buffer = reuseSlab(bytes) ?? new ArrayBuffer(bytes);
    const slab: Slab = { buffer, frameSize, unused: 0, freed: [], live: 0 };
    this.#byBuffer.set(slab.buffer, slab);
    this.#slabBytes += slab.buffer.byteLength;
    return slab;
  }
}
