/**
 * Buffers for READ replies, reused once the reply is written. Each READ would otherwise
 * allocate (and zero) a fresh buffer of up to 1 MiB that lives only until writev(2)
 * returns; reading app-a through a mount, that churn was a large part of the daemon's
 * garbage collection. Sizes are powers of two from 4 KiB to 1 MiB; at most
 * RETAINED_BYTES of free buffers are kept, so the pool never costs more than that.
 */
const MIN_SHIFT = 12;
const MAX_SHIFT = 20;
const RETAINED_BYTES = 2 << 20;

export class ReplyBuffers {
  readonly #free: Uint8Array[][] = Array.from({ length: MAX_SHIFT - MIN_SHIFT + 1 }, () => []);
  /** Buffers this pool handed out, by their ArrayBuffer: only those come back. */
  readonly #ours = new WeakSet<ArrayBufferLike>();
  /** Those of them now in a free list, so one seen twice (two views of it) is pooled once. */
  readonly #pooled = new WeakSet<ArrayBufferLike>();
  #retained = 0;

  /** A buffer of at least `size` bytes (its contents are stale), or null above 1 MiB. */
  acquire(size: number): Uint8Array | null {
    if (size > 1 << MAX_SHIFT) return null;
    const shift = Math.max(MIN_SHIFT, Math.ceil(Math.log2(Math.max(1, size))));
    const free = this.#free[shift - MIN_SHIFT]!;
    const reused = free.pop();
    if (reused) {
      this.#pooled.delete(reused.buffer);
      this.#retained -= reused.length;
      return reused;
    }
    const fresh = new Uint8Array(1 << shift);
    this.#ours.add(fresh.buffer);
    return fresh;
  }

  /** Takes back a reply's parts once written; parts not from this pool are ignored. */
  release(parts: readonly Uint8Array[]): void {
    for (const part of parts) {
      const buffer = part.buffer;
      if (!this.#ours.has(buffer) || this.#pooled.has(buffer) || this.#retained + buffer.byteLength > RETAINED_BYTES) continue;
      this.#free[Math.log2(buffer.byteLength) - MIN_SHIFT]!.push(new Uint8Array(buffer));
      this.#pooled.add(buffer);
      this.#retained += buffer.byteLength;
    }
  }

  /** Bytes of free buffers kept. */
  get retainedBytes(): number {
    return this.#retained;
  }
}
