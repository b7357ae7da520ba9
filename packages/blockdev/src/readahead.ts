import { ErofsError } from "@erofs-ts/format";
import type { BufferPool } from "./buffer-pool.js";
import { checkRange, type BlockSource } from "./source.js";

export interface ReadaheadOptions {
  /** Bytes read per window (aligned to its own size). Default 256 KiB. */
  readonly windowBytes?: number;
  /** Windows kept at once (least recently used goes first). Default 16. */
  readonly windows?: number;
  /** Windows fetched ahead of a sequential reader. Default 4; 0 turns prefetching off. */
  readonly ahead?: number;
  /**
   * Where window buffers come from and go back to, as windows are evicted and when the
   * source is released or closed (see BufferPool), so that the next source opened
   * (another mount of the process, the same image mounted again) loads into memory
   * already touched. Without it, a few evicted buffers are kept for this source's own
   * next windows only.
   */
  readonly buffers?: BufferPool;
}

interface Window {
  readonly base: number;
  data: Uint8Array | null;
  loading: Promise<Uint8Array> | null;
  /** A view of it was handed out (view()): its buffer may be in use for good, never reused. */
  viewed: boolean;
  /** Reads waiting for it to load, which copy from it afterwards: not reusable until they have. */
  waiting: number;
}

const DEFAULT_WINDOW = 256 << 10;
const DEFAULT_WINDOWS = 16;
const DEFAULT_AHEAD = 4;
/** Hard caps on what the options may ask for (memory held = windowBytes × windows). */
const MAX_WINDOW = 4 << 20;
const MAX_WINDOWS = 64;
/** Sequential streams tracked at once (file data, metadata, the packed inode, ...). */
const STREAMS = 4;
/** Evicted window buffers kept for the next windows to load into (without a pool). */
const SPARES = 4;

/**
 * Reads a source in aligned windows and keeps a few of them, the way the kernel's
 * readahead serves a file read in pieces. Measured on this project's corpus: an async
 * positional read costs 35–50 µs of thread-pool round trip whatever its size (a sync one
 * 3 µs), and reading every file of an image issues ~1000 reads, mostly of 4 KiB, close
 * together; through windows most of them become a memory copy. A reader moving forward
 * (each of a few interleaved streams is followed) gets the next `ahead` windows fetched in
 * the background, so device reads overlap the caller's decoding instead of stalling it.
 *
 * Reads longer than `ahead` windows go straight to the inner source. The image must not
 * change underneath (EROFS is read-only; the kernel makes the same assumption).
 *
 * An evicted window's buffer is reused for the next window loaded, unless a view of it
 * was handed out. A new buffer costs a page fault per 4 KiB on first touch: on the VM
 * these benchmarks run on, ~11 µs each, 0.7 ms per 256 KiB window, more than reading it.
 */
export class ReadaheadSource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #inner: BlockSource;
  readonly #windowBytes: number;
  readonly #maxWindows: number;
  readonly #ahead: number;
  readonly #direct: number;
  /** Windows by base offset; Map order is the LRU order (oldest first). */
  readonly #windows = new Map<number, Window>();
  /** Last window base of each recent stream, most recent last. */
  readonly #streams: number[] = [];
  /** Without a pool: buffers of evicted windows, to load the next windows into. */
  readonly #spares: Uint8Array[] = [];
  /** Where window buffers come from and go back to, if given (then no spares are kept). */
  readonly #pool: BufferPool | undefined;

  constructor(inner: BlockSource, options: ReadaheadOptions = {}) {
    const w = options.windowBytes ?? DEFAULT_WINDOW;
    const n = options.windows ?? DEFAULT_WINDOWS;
    const ahead = options.ahead ?? Math.min(DEFAULT_AHEAD, Math.floor(n / 2));
    if (!Number.isSafeInteger(w) || w < 512 || w > MAX_WINDOW || (w & (w - 1)) !== 0) {
      throw new ErofsError("EINVAL", `readahead window ${w} is not a power of two in [512, ${MAX_WINDOW}]`);
    }
    if (!Number.isSafeInteger(n) || n < 2 || n > MAX_WINDOWS) {
      throw new ErofsError("EINVAL", `readahead window count ${n} outside [2, ${MAX_WINDOWS}]`);
    }
    if (!Number.isSafeInteger(ahead) || ahead < 0 || ahead > n / 2) {
      throw new ErofsError("EINVAL", `readahead of ${ahead} windows outside [0, ${n / 2}]`);
    }
    this.#inner = inner;
    this.#windowBytes = w;
    this.#maxWindows = n;
    this.#ahead = ahead;
    this.#pool = options.buffers;
    // A read spanning more windows than are fetched ahead is big enough on its own.
    this.#direct = Math.max(1, ahead) * w;
    this.name = inner.name;
    this.size = inner.size;
  }

  read(target: Uint8Array, position: number): Promise<void> {
    checkRange(this, position, target.length);
    const len = target.length;
    if (len > this.#direct || len === 0) return this.#inner.read(target, position);
    const wins = this.#cover(position, len);
    if (wins.every((x) => x.data)) {
      for (const x of wins) this.#copy(x.data!, x.base, target, position);
      return Promise.resolve();
    }
    return this.#readSlow(wins, target, position);
  }

  /**
   * The bytes [position, position + length): a view into a window when they lie in one
   * (no copy), else a new array. The result may be shared: callers must not modify it,
   * and should not keep it long (a kept view pins its whole window).
   */
  async view(position: number, length: number): Promise<Uint8Array> {
    checkRange(this, position, length);
    if (length > 0 && length <= this.#direct) {
      const wins = this.#cover(position, length);
      if (wins.length === 1) {
        const x = wins[0]!;
        x.viewed = true;
        const data = x.data ?? (await x.loading!);
        return data.subarray(position - x.base, position - x.base + length);
      }
      const out = new Uint8Array(length);
      await this.#readSlow(wins, out, position);
      return out;
    }
    const out = new Uint8Array(length);
    await this.#inner.read(out, position);
    return out;
  }

  /** The windows covering [position, position + len), loading as needed; starts readahead. */
  #cover(position: number, len: number): Window[] {
    const w = this.#windowBytes;
    const first = position - (position % w);
    const last = position + len - 1 - ((position + len - 1) % w);
    const wins: Window[] = [];
    for (let base = first; base <= last; base += w) wins.push(this.#window(base));
    this.#follow(first, last);
    return wins;
  }

  async #readSlow(wins: Window[], target: Uint8Array, position: number): Promise<void> {
    for (const x of wins) x.waiting++;
    let i = 0;
    try {
      for (; i < wins.length; i++) {
        const x = wins[i]!;
        const data = x.data ?? (await x.loading!);
        this.#copy(data, x.base, target, position);
        x.waiting--;
      }
    } finally {
      // After a failed load: the windows not copied from are no longer waited for either.
      for (; i < wins.length; i++) wins[i]!.waiting--;
    }
  }

  /** Copies the part of [position, position + target.length) that window `base` holds. */
  #copy(data: Uint8Array, base: number, target: Uint8Array, position: number): void {
    const from = Math.max(position, base);
    const to = Math.min(position + target.length, base + data.length);
    if (to > from) target.set(data.subarray(from - base, to - base), from - position);
  }

  /** The window at `base`, loaded or loading; marks it most recently used. */
  #window(base: number): Window {
    let win = this.#windows.get(base);
    if (win) {
      this.#windows.delete(base);
      this.#windows.set(base, win);
      return win;
    }
    win = { base, data: null, loading: null, viewed: false, waiting: 0 };
    const length = Math.min(this.#windowBytes, this.size - base);
    const spare = length !== this.#windowBytes ? undefined : this.#pool ? this.#pool.acquire(length)?.subarray(0, length) : this.#spares.pop();
    const buf = spare ?? new Uint8Array(length);
    const loading = this.#inner.read(buf, base).then(
      () => {
        win.data = buf;
        win.loading = null;
        return buf;
      },
      (e: unknown) => {
        // Forget a failed window so that a later read tries again (and sees its own error).
        if (this.#windows.get(base) === win) this.#windows.delete(base);
        throw e;
      },
    );
    win.loading = loading;
    this.#windows.set(base, win);
    while (this.#windows.size > this.#maxWindows) this.#evict(this.#windows.values().next().value!);
    return win;
  }

  /** Drops a window; its buffer goes back to the pool, or becomes a spare, when nothing can still be reading it. */
  #evict(win: Window): void {
    this.#windows.delete(win.base);
    if (!this.#reusable(win)) return;
    if (this.#pool) this.#pool.release([win.data!]);
    else if (this.#spares.length < SPARES) this.#spares.push(win.data!);
  }

  /** Whether a window's buffer may be loaded into again: no view of it is out, no read waits on it. */
  #reusable(win: Window): boolean {
    return win.data !== null && !win.viewed && win.waiting === 0 && win.data.length === this.#windowBytes;
  }

  /** Forgets every window; with a pool, the buffers that may be reused go back to it. */
  #dropWindows(): void {
    if (this.#pool) for (const win of this.#windows.values()) if (this.#reusable(win)) this.#pool.release([win.data!]);
    this.#windows.clear();
    this.#spares.length = 0;
  }

  /**
   * Stream detection: a read whose first window is at or just after where a recent stream
   * ended continues it (small forward gaps, such as another file's blocks, still count),
   * and the windows after its last one are fetched in the background.
   */
  #follow(first: number, last: number): void {
    const w = this.#windowBytes;
    const s = this.#streams;
    let i = s.length - 1;
    while (i >= 0 && !(first >= s[i]! && first <= s[i]! + 2 * w)) i--;
    const sequential = i >= 0 && last > s[i]!;
    if (i >= 0) s.splice(i, 1);
    else if (s.length >= STREAMS) s.shift();
    s.push(last);
    if (!sequential) return;
    for (let k = 1; k <= this.#ahead; k++) {
      const next = last + k * w;
      if (next >= this.size) break;
      if (this.#windows.has(next)) continue;
      // A background read's failure is reported to whoever reads that window, not here.
      this.#window(next).loading?.catch(() => undefined);
    }
  }

  /**
   * Forgets every window and stream (reads in flight still complete for their callers).
   * An idle owner's windows are no use to the next reader, which may be anywhere.
   */
  release(): void {
    this.#dropWindows();
    this.#streams.length = 0;
    this.#inner.release?.();
  }

  close(): Promise<void> {
    this.#dropWindows();
    return this.#inner.close();
  }
}
