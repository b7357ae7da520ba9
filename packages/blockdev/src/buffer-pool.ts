import { ErofsError } from "@erofs-ts/format";

export interface BufferPoolOptions {
  /** Largest buffer handed out, as a power of two (default 20: 1 MiB). */
  readonly maxShift?: number;
  /** Most bytes of free buffers kept (default 2 MiB): what the pool can cost while idle. */
  readonly retainedBytes?: number;
}

const MIN_SHIFT = 12;
const MAX_SHIFT = 26;

/**
 * Buffers that live for one request (a reply, a fill, a read of stored pclusters), reused
 * once released. A new buffer costs more than its allocation: zeroing, and a page fault
 * per 4 KiB on first touch (~11 µs each on the VM the benchmarks run on), and the garbage
 * collector frees it only later. Sizes are powers of two from 4 KiB; at most
 * `retainedBytes` of free buffers are kept, so the pool never costs more than that.
 */
export class BufferPool {
  readonly #maxShift: number;
  readonly #budget: number;
  readonly #free: Uint8Array[][];
  /** Buffers this pool handed out, by their ArrayBuffer: only those come back. */
  readonly #ours = new WeakSet<ArrayBufferLike>();
  /** Those of them now in a free list, so one seen twice (two views of it) is pooled once. */
  readonly #pooled = new WeakSet<ArrayBufferLike>();
  #retained = 0;

  constructor(options: BufferPoolOptions = {}) {
    const maxShift = options.maxShift ?? 20;
    const budget = options.retainedBytes ?? 2 << 20;
    if (!Number.isInteger(maxShift) || maxShift < MIN_SHIFT || maxShift > MAX_SHIFT) {
      throw new ErofsError("EINVAL", `buffer pool maxShift ${maxShift} outside [${MIN_SHIFT}, ${MAX_SHIFT}]`);
    }
    if (!Number.isSafeInteger(budget) || budget < 0) throw new ErofsError("EINVAL", `buffer pool budget ${budget}`);
    this.#maxShift = maxShift;
    this.#budget = budget;
    this.#free = Array.from({ length: maxShift - MIN_SHIFT + 1 }, () => []);
  }

  /** A buffer of at least `size` bytes (its contents are stale), or null above the largest size. */
  acquire(size: number): Uint8Array | null {
    if (size > 2 ** this.#maxShift) return null;
    const shift = Math.max(MIN_SHIFT, Math.ceil(Math.log2(Math.max(1, size))));
    const reused = this.#free[shift - MIN_SHIFT]!.pop();
    if (reused) {
      this.#pooled.delete(reused.buffer);
      this.#retained -= reused.length;
      return reused;
    }
    const fresh = new Uint8Array(2 ** shift);
    this.#ours.add(fresh.buffer);
    return fresh;
  }

  /**
   * Takes buffers back once nothing uses them (views of them count as the buffer); ones
   * not from this pool are ignored.
   */
  release(parts: readonly Uint8Array[]): void {
    for (const part of parts) {
      const buffer = part.buffer;
      if (!this.#ours.has(buffer) || this.#pooled.has(buffer) || this.#retained + buffer.byteLength > this.#budget) continue;
      this.#free[Math.log2(buffer.byteLength) - MIN_SHIFT]!.push(new Uint8Array(buffer));
      this.#pooled.add(buffer);
      this.#retained += buffer.byteLength;
    }
  }

  /** Lets every free buffer go (an idle owner). */
  clear(): void {
    for (const list of this.#free) {
      for (const b of list) this.#pooled.delete(b.buffer);
      list.length = 0;
    }
    this.#retained = 0;
  }

  /** Bytes of free buffers kept. */
  get retainedBytes(): number {
    return this.#retained;
  }
}
