import { corrupted } from "./errors.js";

/** Reads bytes of an inode's metadata space (primary device or metabox). */
export type MetaRead = (offset: number, length: number) => Promise<Uint8Array>;

/** Metadata bytes in memory: `bytes[i]` is the byte at metadata offset `start + i`. */
export interface MetaSpan {
  bytes: Uint8Array;
  start: number;
}

/**
 * Metadata already in memory, without I/O: sets `into` to a span holding
 * [offset, offset + length) and returns true, or returns false, leaving `into` as it was,
 * when those bytes would have to be read first.
 */
export type MetaPeek = (offset: number, length: number, into: MetaSpan) => boolean;

/** Thrown inside a synchronous walk for bytes it cannot have without I/O (see settle). */
class MetaMiss {
  constructor(
    readonly offset: number,
    readonly length: number,
  ) {}
}

const EMPTY = new Uint8Array(0);

/**
 * The bytes a synchronous metadata walk reads: the span it used last (consecutive lookups
 * mostly fall in one block), then the regions read for it, then the caller's `peek`.
 */
export class MetaWindow {
  /** The span `at` answered from last; valid until the next call. */
  span: MetaSpan = { bytes: EMPTY, start: 0 };
  readonly #regions: MetaSpan[] = [];
  readonly #peek: MetaPeek | undefined;
  readonly #peeked: MetaSpan = { bytes: EMPTY, start: 0 };

  constructor(peek: MetaPeek | undefined) {
    this.#peek = peek;
  }

  /** Where metadata byte `offset` is in `this.span.bytes`, with `length` bytes after it there. */
  at(offset: number, length: number): number {
    const s = this.span;
    if (offset >= s.start && offset + length <= s.start + s.bytes.length) return offset - s.start;
    for (const r of this.#regions) {
      if (offset >= r.start && offset + length <= r.start + r.bytes.length) {
        this.span = r;
        return offset - r.start;
      }
    }
    if (this.#peek?.(offset, length, this.#peeked)) {
      this.span = this.#peeked;
      return offset - this.#peeked.start;
    }
    throw new MetaMiss(offset, length);
  }

  add(region: MetaSpan): void {
    this.#regions.push(region);
  }

  get regions(): number {
    return this.#regions.length;
  }
}

/**
 * Bytes read around one miss, at most: a walk's lookups stay within a few KiB of each
 * other (a pack of lcluster indexes, the lclusters an extent spans), so one read covers
 * the misses that would follow it, and a walk needs few of them.
 */
const REGION_BYTES = 16 << 10;
/** Reads one walk may need: its lookups span at most ~48 KiB (3,073 full indexes each way). */
const MAX_REGIONS = 16;

/**
 * Runs a synchronous metadata walk where its bytes are in memory (`peek`) and, where they
 * are not, reads the region around the first missing ones and runs it again. Walks are
 * pure functions of the bytes, so a rerun sees what the first run saw plus the new
 * region; regions are clamped to `bounds()` ([lo, hi): the bytes the walk may
 * legitimately read), asked for at the first miss only.
 */
export async function settle<T>(walk: (w: MetaWindow) => T, read: MetaRead, peek: MetaPeek | undefined, bounds: () => readonly [number, number]): Promise<T> {
  const window = new MetaWindow(peek);
  let range: readonly [number, number] | undefined;
  for (;;) {
    try {
      return walk(window);
    } catch (e) {
      if (!(e instanceof MetaMiss)) throw e;
      if (window.regions >= MAX_REGIONS) throw corrupted(`metadata walk still reading at ${e.offset} after ${MAX_REGIONS} regions`);
      const [lo, hi] = (range ??= bounds());
      const end = e.offset + e.length;
      const start = Math.min(e.offset, Math.max(lo, e.offset - REGION_BYTES / 2));
      const stop = Math.max(end, Math.min(hi, end + REGION_BYTES / 2));
      window.add({ bytes: await read(start, stop - start), start });
    }
  }
}

/** A walk that found everything in memory, or undefined where it would need I/O (then use settle). */
export function tryInMemory<T>(walk: (w: MetaWindow) => T, peek: MetaPeek): T | undefined {
  try {
    return walk(new MetaWindow(peek));
  } catch (e) {
    if (e instanceof MetaMiss) return undefined;
    throw e;
  }
}
