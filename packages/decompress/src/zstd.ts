import { decompress } from "fzstd";
import { ZSTDDecoder } from "zstddec";
import { ZSTDDecoder as ZSTDStreamDecoder } from "zstddec/stream";
import { ErofsError, holdingEventLoop, unsupported } from "@erofs-ts/format";
import { bad } from "./errors.js";
import type { WasmMemory } from "./wasm-module.js";
import { decodeZstdNative, hasNativeZstd } from "./zstd-native.js";

/**
 * The reference zstd library compiled to WebAssembly (zstddec): several times faster than
 * fzstd, whose frame setup allocates a zeroed window per frame. Its instantiation is
 * asynchronous and costs ~6 MB of memory, so it starts on the first zstd frame (or
 * zstdReady()), not when this module loads: most images never use zstd. decodeZstd uses
 * fzstd until it is ready (or everywhere, where there is no WebAssembly).
 *
 * zstddec's own decode() returns a new array per frame (a copy out of its memory), which
 * we then copied into the output again: a fresh allocation per pcluster, and on the VM
 * the benchmarks run on each of its pages costs a fault of ~11 µs. So the instance is
 * taken when zstddec instantiates it (its public `_init` hook) and its exports are called
 * directly, the result copied once, straight into the output.
 *
 * zstddec comes in two builds. Whole frames (nearly every read) go through the one-shot
 * build: its decoder ran ~4-10% faster on app-a-zstd's frames than the streaming build's.
 * A prefix of a frame (an extent shorter than its frame: a damaged map, a partly used
 * pcluster) goes through the streaming build, because the kernel streams: it decodes a
 * frame block by block only until its pages are full, so damage past them goes unnoticed
 * there, and a whole decode failed such reads here. That build loads on the first prefix
 * (zstdPrefixReady()), another ~6 MB that most processes never spend.
 */
interface ZstdExports {
  readonly memory: WasmMemory;
  malloc(size: number): number;
  free(ptr: number): void;
  /** Decodes a whole frame; returns its size, or an error code (negative as a 32-bit result). */
  ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
}

/** The streaming build's exports. It has no ZSTD_isError: its error codes are negative too. */
interface ZstdStreamExports extends ZstdExports {
  ZSTD_createDCtx(): number;
  ZSTD_freeDCtx(dctx: number): number;
  /** Returns 0 once the frame is decoded and flushed, a positive hint while it is not, a negative error code. */
  ZSTD_decompressStream(dctx: number, output: number, input: number): number;
}

/**
 * A block of the WebAssembly heap kept from frame to frame and only ever grown: a
 * malloc/free pair per pcluster cost 1-3% of a zstd image's decode. The heap never shrinks
 * anyway, so keeping the block holds no memory that freeing it would have returned.
 */
class HeapBlock {
  ptr = 0;
  size = 0;

  /** The block's address with room for `bytes`, or 0 when the heap cannot grow to it. */
  reserve(ex: ZstdExports, bytes: number): number {
    if (bytes <= this.size) return this.ptr;
    if (this.ptr) ex.free(this.ptr);
    this.ptr = ex.malloc(bytes);
    this.size = this.ptr ? bytes : 0;
    return this.ptr;
  }
}

/** One of zstddec's builds, instantiated on demand: `exports` once ready (undefined without WebAssembly). */
class Build<E> {
  exports: E | undefined;
  /** Where frames are copied in and decoded to, in this build's heap. */
  readonly src = new HeapBlock();
  readonly dst = new HeapBlock();
  #loading: Promise<void> | undefined;
  readonly #make: (take: (exports: unknown) => void) => ZSTDDecoder;

  constructor(make: (take: (exports: unknown) => void) => ZSTDDecoder) {
    this.#make = make;
  }

  load(): Promise<void> {
    this.#loading ??= holdingEventLoop(initWithoutFetch(this.#make((exports) => (this.exports = exports as E)))).then(
      () => undefined,
      () => void (this.exports = undefined), // no WebAssembly here: fzstd does all the work
    );
    return this.#loading;
  }
}

type Instantiated = Parameters<ZSTDDecoder["_init"]>[0];
const exportsOf = (result: Instantiated) => (result as { instance: { exports: unknown } }).instance.exports;

/** A decoder of zstddec's build `Base` that hands its instance's exports to `take` as it instantiates. */
function exportsTaking(Base: typeof ZSTDDecoder, take: (exports: unknown) => void): ZSTDDecoder {
  return new (class extends Base {
    override _init(result: Instantiated): void {
      // zstddec's own state too: its memory-growth hook refers to it.
      Base.prototype._init.call(this, result);
      take(exportsOf(result));
    }
  })();
}

const oneShot = new Build<ZstdExports>((take) => exportsTaking(ZSTDDecoder, take));
const streaming = new Build<ZstdStreamExports>((take) => exportsTaking(ZSTDStreamDecoder, take));

/**
 * zstddec instantiates its module from a `data:` URL through fetch() wherever fetch
 * exists, else from a Buffer. In Node the first fetch() loads the whole HTTP client
 * (undici): measured here, ~19 ms of the main thread at the first zstd mount, and its
 * modules stay in the heap for good. So where Buffer exists, fetch is hidden while
 * init() picks its way; it only reads `typeof fetch` synchronously, and the global is put
 * back before anything else can run.
 */
function initWithoutFetch(decoder: ZSTDDecoder): Promise<void> {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "fetch");
  const hasBuffer = typeof (globalThis as { Buffer?: unknown }).Buffer === "function";
  if (!saved?.configurable || !hasBuffer) return decoder.init();
  Object.defineProperty(globalThis, "fetch", { value: undefined, configurable: true, writable: true });
  try {
    return decoder.init();
  } finally {
    Object.defineProperty(globalThis, "fetch", saved);
  }
}

/** Starts the fast decoder if needed; resolves once it is ready (or known to be unavailable). */
export async function zstdReady(): Promise<boolean> {
  await oneShot.load();
  return oneShot.exports !== undefined;
}

/**
 * Starts the streaming decoder (for prefixes of frames) if needed; resolves once it is
 * ready (or known to be unavailable). Until then a prefix is decoded from the whole frame.
 */
export async function zstdPrefixReady(): Promise<boolean> {
  await streaming.load();
  return streaming.exports !== undefined;
}

/**
 * Whether decoding `input` into `outLength` bytes (`partial`) takes a prefix of a sized
 * frame, the streaming decoder's work. False for anything decodeZstd will refuse.
 */
export function isZstdPrefix(input: Uint8Array, outLength: number, partial: boolean): boolean {
  if (!partial) return false;
  try {
    return frameHeader(input).contentSize > outLength;
  } catch {
    return false;
  }
}

/** In the streaming build's heap: ZSTD_outBuffer then ZSTD_inBuffer, { pointer, size, pos } of 32 bits each. */
const buffersBlock = new HeapBlock();
const BUFFERS_BYTES = 24;

/**
 * The streaming build's decoding context, kept from frame to frame (a frame decoded to
 * its end leaves it ready for the next), and made anew after one left part way or failed.
 */
let context = 0;

function freshContext(ex: ZstdStreamExports): void {
  if (context) ex.ZSTD_freeDCtx(context);
  context = ex.ZSTD_createDCtx();
}

/** `src` copied into a build's heap, and room for `capacity` bytes of output there. */
function stage(build: Build<ZstdExports>, ex: ZstdExports, src: Uint8Array, capacity: number): { srcPtr: number; dstPtr: number } {
  const srcPtr = build.src.reserve(ex, Math.max(src.length, 1));
  const dstPtr = srcPtr ? build.dst.reserve(ex, Math.max(capacity, 1)) : 0;
  if (!dstPtr) throw bad("zstd", `no memory for a frame of ${capacity} bytes`);
  // The memory's buffer changes when it grows (malloc above may have grown it).
  new Uint8Array(ex.memory.buffer, srcPtr, src.length).set(src);
  return { srcPtr, dstPtr };
}

/**
 * Streams a frame with the streaming build into `out` until `out` is full or the frame
 * (or `src`) ends: the blocks after the one that fills `out` are not decoded (its next
 * block's header is read when `out` ends with a block and `src` holds it, as the kernel's
 * decoder reads it when the header lies in the same input page). Returns the bytes decoded.
 */
function streamWasm(ex: ZstdStreamExports, src: Uint8Array, out: Uint8Array): number {
  const { srcPtr, dstPtr } = stage(streaming, ex, src, out.length);
  const io = buffersBlock.reserve(ex, BUFFERS_BYTES);
  if (io && !context) freshContext(ex);
  if (!io || !context) throw bad("zstd", `no memory for a frame of ${out.length} bytes`);
  new Uint32Array(ex.memory.buffer, io, BUFFERS_BYTES / 4).set([dstPtr, out.length, 0, srcPtr, src.length, 0]);
  const left = ex.ZSTD_decompressStream(context, io, io + 12);
  if (left !== 0) freshContext(ex);
  // Error codes are the last hundred-odd size_t values: negative as a 32-bit result.
  if (left < 0) throw bad("zstd", "corrupt frame");
  const decoded = new Uint32Array(ex.memory.buffer, io, BUFFERS_BYTES / 4)[2]!;
  out.set(new Uint8Array(ex.memory.buffer, dstPtr, decoded));
  return decoded;
}

/**
 * Decodes a whole frame with the one-shot build into at most `capacity` bytes and copies
 * the first out.length of them into `out`; returns how many it decoded.
 */
function decodeWholeWasm(ex: ZstdExports, src: Uint8Array, capacity: number, out: Uint8Array): number {
  const { srcPtr, dstPtr } = stage(oneShot, ex, src, capacity);
  const n = ex.ZSTD_decompress(dstPtr, capacity, srcPtr, src.length);
  if (n < 0) throw bad("zstd", "corrupt frame");
  out.set(new Uint8Array(ex.memory.buffer, dstPtr, Math.min(n, out.length)));
  return n;
}

const MAX_DECODED = 12 << 20;
const ZSTD_MAGIC = 0xfd2fb528;

interface FrameHeader {
  /** The declared content size, or -1 when the header omits it. */
  readonly contentSize: number;
  /** Header bytes, magic included: where the first block header starts. */
  readonly length: number;
  readonly hasChecksum: boolean;
}

/** The header of the zstd frame at the start of `src` (RFC 8878, 3.1.1). */
function frameHeader(src: Uint8Array): FrameHeader {
  if (src.length < 6) throw bad("zstd", "frame header truncated");
  const magic = (src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) throw bad("zstd", "bad frame magic");
  const fhd = src[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const dictFlag = fhd & 3;
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const hasChecksum = (fhd & 4) !== 0;
  if (p + size > src.length) throw bad("zstd", "frame header truncated");
  if (size === 0) return { contentSize: -1, length: p, hasChecksum };
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + src[p + i]!;
  if (size === 2) v += 256;
  return { contentSize: v, length: p + size, hasChecksum };
}

/** Where the frame at the start of some bytes ends (see frameExtent). */
interface FrameExtent {
  /** Bytes of the frame, or all the bytes there are when its blocks run past their end. */
  readonly length: number;
  /** Whether the frame's last block (and checksum) lie within the bytes. */
  readonly complete: boolean;
}

/**
 * Where the frame at the start of `src` ends, found by walking its block headers (3 bytes
 * each: last-block bit, type, size; an RLE block stores one byte), plus the checksum. A
 * frame whose blocks run past the end of `src` takes all of it (the decoder then reports
 * the truncation).
 */
function frameExtent(src: Uint8Array, header: FrameHeader): FrameExtent {
  let pos = header.length;
  // Each block moves pos on by at least 3 bytes: the walk ends within src.length / 3 steps.
  while (pos + 3 <= src.length) {
    const bh = src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16);
    const type = (bh >>> 1) & 3;
    pos += 3 + (type === 1 ? 1 : bh >>> 3);
    if (bh & 1) {
      const end = pos + (header.hasChecksum ? 4 : 0);
      return { length: Math.min(end, src.length), complete: end <= src.length };
    }
  }
  return { length: src.length, complete: false };
}

/**
 * decodeZstd's fast path: true when node:zlib decoded the frame into `out` (see
 * zstd-native.ts), false where the WebAssembly decoders are to decide, which is wherever
 * this Node has no zstd, and for any frame decodeZstdWasm would refuse or treat apart
 * (one without a declared size, one declaring more than a pcluster decodes to).
 */
export function tryZstdNative(input: Uint8Array, out: Uint8Array, partial: boolean): boolean {
  if (out.length === 0 || !hasNativeZstd()) return false;
  let header: FrameHeader;
  try {
    header = frameHeader(input);
  } catch (e) {
    // A bad header: decodeZstdWasm reads it again and raises its error.
    if (!ErofsError.isInstance(e)) throw e;
    return false;
  }
  const declared = header.contentSize;
  if (declared < out.length || declared > MAX_DECODED) return false;
  const whole = declared === out.length;
  if (!whole && !partial) return false;
  const frame = frameExtent(input, header);
  if (whole && !frame.complete) return false;
  return decodeZstdNative(input.subarray(0, frame.length), out, whole);
}

/**
 * One zstd frame per pcluster: through node:zlib where this Node has zstd and the frame
 * decodes there (tryZstdNative), else decodeZstdWasm.
 */
export function decodeZstd(input: Uint8Array, out: Uint8Array, partial: boolean): void {
  if (!tryZstdNative(input, out, partial)) decodeZstdWasm(input, out, partial);
}

/**
 * One zstd frame per pcluster, through zstddec's WebAssembly builds (fzstd until they are
 * ready, or where there is no WebAssembly). The frame's declared size is checked against
 * the pcluster limit before anything is allocated. A frame without a declared size
 * (mkfs.erofs always writes it) is decoded whole into a buffer as large as the output may
 * need (the extent, or the pcluster limit for a prefix), and only by zstddec: fzstd,
 * given no buffer, allocates the header's window (up to 2 GiB) and moves all of it per
 * block, which took minutes on a corrupt frame.
 */
export function decodeZstdWasm(input: Uint8Array, out: Uint8Array, partial: boolean): void {
  const fast = oneShot.exports;
  if (!fast) void oneShot.load();
  const header = frameHeader(input);
  const declared = header.contentSize;
  // Only the first frame counts, whatever follows it: the kernel's stream decoder stops at
  // its end. mkfs.erofs 1.9 leaves zeros after some frames (a pcluster not filled from
  // its end), which the one-shot decoders would read as a second, corrupt frame.
  const src = input.subarray(0, frameExtent(input, header).length);
  if (declared > MAX_DECODED) throw bad("zstd", `frame declares ${declared} bytes`);
  if (declared >= 0) {
    if (declared < out.length) throw bad("zstd", `frame declares ${declared} of ${out.length} bytes`);
    if (!partial && declared !== out.length) throw bad("zstd", "frame longer than its extent");
  }
  // A prefix of a sized frame (partial, as checked above), streamed where it can be. A
  // frame of unknown size is not: that would take a buffer of its window (up to 2 GiB).
  const stream = declared > out.length ? streaming.exports : undefined;
  if (stream || fast) {
    let decoded: number;
    if (stream) {
      if (out.length === 0) return;
      decoded = streamWasm(stream, src, out);
    } else {
      // A capacity of at least 1: 0 would make the frame's own size the limit.
      const capacity = declared >= 0 ? declared : partial ? MAX_DECODED : out.length;
      decoded = decodeWholeWasm(fast!, src, Math.max(capacity, 1), out);
      if (declared >= 0 && decoded !== declared) throw bad("zstd", "corrupt frame");
      if (!partial && decoded !== out.length) throw bad("zstd", "frame longer than its extent");
    }
    if (decoded < out.length) throw bad("zstd", `corrupt frame, or it ends after ${decoded} of ${out.length} bytes`);
    return;
  }
  if (declared < 0) throw unsupported("zstd frame without a content size (needs WebAssembly)", "zstd pcluster");
  let decoded: Uint8Array;
  try {
    // fzstd sizes its own buffer from the declared size (checked above). Given ours
    // instead, it ran ~20x slower (9 against 195 MB/s on a 128 KiB pcluster), so it
    // decodes into its own and the bytes are copied.
    decoded = decompress(src);
  } catch (e) {
    throw bad("zstd", (e as Error).message);
  }
  // The declared size was checked against out.length and `partial` above: equal to it,
  // the output is as long as it must be.
  if (decoded.length !== declared) throw bad("zstd", `frame of ${declared} bytes decodes to ${decoded.length}`);
  out.set(decoded.subarray(0, out.length));
}
