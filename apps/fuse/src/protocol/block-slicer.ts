/**
 * Small buffers that live for one request, cut from shared blocks. A `new Uint8Array(n)`
 * (or `slice()`) larger than 64 bytes gets memory of its own outside V8's heap, which the
 * garbage collector then tracks and sweeps: a copy of each request and a fresh buffer for
 * each fixed-size reply cost ~4 µs apiece, 13 ms of the daemon's CPU for the LOOKUP
 * replies alone in a 380 ms cold walk of app-a-lz4. A slice is a view of a block: cutting
 * one allocates nothing outside the heap.
 *
 * A slice is never handed out twice, so whoever holds one keeps its bytes as long as it
 * likes, and a slice holds zeros until written (a new ArrayBuffer is zeroed). A block is
 * freed by the garbage collector once no slice of it is held.
 */
export class BlockSlicer {
  readonly #blockBytes: number;
  #block = new ArrayBuffer(0);
  #view = new DataView(this.#block);
  #used = 0;

  constructor(blockBytes = 64 << 10) {
    this.#blockBytes = blockBytes;
  }

  /** `size` bytes of zeros; write them through `view` at the slice's byteOffset, or directly. */
  take(size: number): Uint8Array {
    // 8-byte aligned, so the u64 fields of consecutive slices are aligned as the kernel's.
    const aligned = (size + 7) & ~7;
    if (this.#used + aligned > this.#block.byteLength) {
      this.#block = new ArrayBuffer(Math.max(this.#blockBytes, aligned));
      this.#view = new DataView(this.#block);
      this.#used = 0;
    }
    const out = new Uint8Array(this.#block, this.#used, size);
    this.#used += aligned;
    return out;
  }

  /** The DataView of the block the last slice was cut from. */
  get view(): DataView {
    return this.#view;
  }
}
