import { InflateRaw, constants, inflateRawSync } from "node:zlib";
import { bad, shortStream } from "./errors.js";
import { drive, type DrivenStream, type ZlibHandle } from "./zlib-handle.js";

/** Largest decoded size of one pcluster (Z_EROFS_PCLUSTER_MAX_DSIZE): bounds zlib's output. */
const MAX_DECODED = 12 << 20;
/** Largest output kept between decodes for reuse; larger extents get a buffer of their own. */
const KEPT_OUTPUT_BYTES = 2 << 20;

/**
 * inflateRawSync makes a new stream (a Transform, a native zlib state with its 32 KiB
 * window) and a new output buffer for every call: for erofs-fuse, 24,000–27,000 page
 * faults a walk of app-a-deflate (~11 µs each on the benchmark VM), most of them zlib
 * writing into output buffers fresh from mmap. So one stream is kept and driven through
 * its handle (zlib-handle.ts), and the documented inflateRawSync is used only where that
 * handle is not to be had.
 */
/** A raw inflate stream reused from pcluster to pcluster, reset before each. */
class ReusedInflater {
  readonly #stream: InflateRaw;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  #output = new Uint8Array(0);

  private constructor(stream: InflateRaw, { handle, state }: DrivenStream) {
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
  }

  /** A new inflater, or null when this Node's zlib streams are not shaped as expected. */
  static create(): ReusedInflater | null {
    const stream = new InflateRaw({ windowBits: 15 });
    const driven = drive(stream);
    return driven && new ReusedInflater(stream, driven);
  }

  /** True once an error has ended the stream: it cannot be used again. */
  get broken(): boolean {
    return this.#stream.destroyed;
  }

  /**
   * Decodes `src` into `out`, with the checks of decodeDeflate. The stream is decoded into
   * a buffer of its own first (one byte more than `out`, to see a longer stream), so `out`
   * is untouched when the stream turns out corrupt.
   */
  decode(src: Uint8Array, out: Uint8Array, partial: boolean): void {
    this.#stream.reset();
    const want = partial ? out.length : out.length + 1;
    const first = want <= this.#output.length ? this.#output : new Uint8Array(Math.max(want, Math.min(2 * this.#output.length, KEPT_OUTPUT_BYTES)));
    if (first.length <= KEPT_OUTPUT_BYTES) this.#output = first;
    // One call: zlib stops once the output is full, or where the stream or its input ends.
    this.#handle.writeSync(constants.Z_SYNC_FLUSH, src, 0, src.length, first, 0, want);
    if (this.#stream.destroyed) throw bad("deflate", (this.#stream.errored as Error | null)?.message ?? "stream error");
    const total = want - this.#state[0]!;
    if (total > out.length) throw bad("deflate", "stream longer than its extent");
    if (total < out.length) throw shortOrCut(src, total, out.length);
    out.set(first.subarray(0, out.length));
  }
}

let inflater: ReusedInflater | null | undefined;

/**
 * Raw DEFLATE through node:zlib (C speed). Output is capped at `out`, so a bomb cannot
 * allocate more than one pcluster may decode to. `partial` keeps the prefix of a longer
 * stream and, as the kernel's partial decode, stops there: what follows is not read, so
 * damage after the prefix does not fail it.
 * The window is always 32 KiB, whatever the superblock's window bits say: the kernel's
 * zlib cannot use a smaller one, so it reads every stream a 32 KiB window can, and so must
 * we (the superblock's value only limits what mkfs may have written).
 */
export function decodeDeflate(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  if (inflater === undefined || inflater?.broken) inflater = ReusedInflater.create();
  if (inflater) return inflater.decode(src, out, partial);
  decodeOnce(src, out, partial);
}

/**
 * decodeDeflate through node:zlib's documented interface: a new stream and output per
 * call. Where the reused stream cannot be had; exported for the tests that hold the two
 * to the same results.
 */
export function decodeOnce(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  let decoded: Uint8Array;
  try {
    decoded = inflateOnce(src, partial ? MAX_DECODED : Math.max(out.length, 1), out.length);
  } catch (e) {
    if (!partial || (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw asCorrupt(e);
    decoded = decodedBeforeFault(src, out.length, e);
  }
  if (decoded.length < out.length) throw shortOrCut(src, decoded.length, out.length);
  if (!partial && decoded.length !== out.length) throw bad("deflate", "stream longer than its extent");
  out.set(decoded.subarray(0, out.length));
}

function inflateOnce(src: Uint8Array, maxOutputLength: number, expected: number): Uint8Array {
  return inflateRawSync(src, {
    windowBits: 15,
    finishFlush: constants.Z_SYNC_FLUSH,
    // One output chunk as large as the extent: zlib's default 16 KiB chunks would be
    // joined into a new buffer afterwards (a copy of every byte, measured ~10% of a read).
    chunkSize: Math.max(constants.Z_MIN_CHUNK, Math.min(expected + 1, MAX_DECODED)),
    maxOutputLength,
  });
}

function asCorrupt(e: unknown): Error {
  if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return bad("deflate", "stream decodes to more than its extent");
  return bad("deflate", (e as Error).message);
}

/**
 * A partial decode of a stream that fails somewhere, without the reused stream's stop at
 * a full output: what the longest fault-free prefix of the input decodes to, if that
 * reaches `wanted` bytes (the fault lies past the bytes a partial decode reads), else the
 * fault. Found by halving (an input cut short is no fault with a sync flush).
 */
function decodedBeforeFault(src: Uint8Array, wanted: number, fault: unknown): Uint8Array {
  let lo = 0;
  let hi = src.length;
  // What the prefix of `lo` bytes decoded to, kept from the halving (lo moves only there).
  let atLo: Uint8Array | undefined;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      atLo = inflateOnce(src.subarray(0, mid), MAX_DECODED, wanted);
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  let decoded: Uint8Array;
  try {
    decoded = atLo ?? inflateOnce(src.subarray(0, 0), MAX_DECODED, wanted);
  } catch {
    throw asCorrupt(fault);
  }
  if (decoded.length < wanted) throw asCorrupt(fault);
  return decoded;
}

/**
 * The error for a stream that gave `produced` of `wanted` bytes: shortStream if it ends
 * properly there (its last block done), else plain corruption (its input cut off). Only
 * on this error path, so the second decode (zlib's own end-of-stream check) costs nothing
 * on good data.
 */
function shortOrCut(src: Uint8Array, produced: number, wanted: number): Error {
  try {
    inflateRawSync(src, { maxOutputLength: Math.max(produced, 1) });
  } catch {
    return bad("deflate", `stream cut off after ${produced} of ${wanted} bytes`);
  }
  return shortStream("deflate", produced, wanted);
}
