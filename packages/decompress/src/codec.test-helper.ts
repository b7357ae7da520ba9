/**
 * Shared helpers for the codec tests: sample data, the Debian encoders (run at test time
 * when installed), the container parsers that turn their output into what EROFS stores
 * (a raw LZ4 block, a MicroLZMA stream, raw DEFLATE), and the corruption checker.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErofsError } from "@erofs-ts/format";

/** Whether a command-line encoder is installed (each answers `--version` with status 0). */
export function hasTool(name: string): boolean {
  const r = spawnSync(name, ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

/** Runs an encoder with `input` on stdin and returns its stdout. */
export function runTool(cmd: string, args: readonly string[], input: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync(cmd, args, { input, maxBuffer: 256 << 20, stdio: ["pipe", "pipe", "ignore"] }));
}

/**
 * Index of the first difference between two byte arrays (a length mismatch counts at
 * the shorter length), or -1: much faster than a deep `toEqual` on large arrays.
 */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** mulberry32: a small seeded PRNG, so every mutation a test makes can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() & 0xff;
  return b;
}

const WORDS = "the quick brown fox jumps over lazy dog erofs block cluster inode page cache read only filesystem".split(" ");

function text(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const b = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const w = WORDS[r() % WORDS.length]!;
    for (let k = 0; k < w.length && i < n; k++) b[i++] = w.charCodeAt(k);
    if (i < n) b[i++] = r() % 11 === 0 ? 10 : 32;
  }
  return b;
}

/**
 * Data shapes that exercise different decoder paths: no matches at all, short matches,
 * runs (offset-1 overlapping copies), short periods (overlap with offset < length),
 * long matches far back, and the edge sizes.
 */
export function samples(): { name: string; data: Uint8Array }[] {
  const period3 = new Uint8Array(9000).map((_, i) => [0x41, 0x42, 0x43][i % 3]!);
  const runs = new Uint8Array(20000);
  {
    const r = prng(7);
    for (let i = 0; i < runs.length; ) {
      const len = 1 + (r() % 300);
      runs.fill(r() & 0xff, i, i + len);
      i += len;
    }
  }
  const acgt = new Uint8Array(30000);
  {
    const r = prng(8);
    for (let i = 0; i < acgt.length; i++) acgt[i] = "ACGT".charCodeAt(r() & 3);
  }
  // A random chunk repeated at growing distances: long matches with large offsets.
  const farRepeat = new Uint8Array(60000);
  {
    const chunk = randomBytes(3000, 9);
    const filler = randomBytes(60000, 10);
    farRepeat.set(filler);
    for (const at of [0, 3100, 9000, 25000, 56000]) farRepeat.set(chunk.subarray(0, Math.min(3000, 60000 - at)), at);
  }
  const mixed = new Uint8Array(50000);
  {
    const r = prng(11);
    for (let i = 0; i < mixed.length; i += 1000) {
      const kind = r() % 3;
      const part = kind === 0 ? randomBytes(1000, r()) : kind === 1 ? text(1000, r()) : new Uint8Array(1000).fill(r() & 0xff);
      mixed.set(part.subarray(0, Math.min(1000, mixed.length - i)), i);
    }
  }
  return [
    { name: "empty", data: new Uint8Array(0) },
    { name: "one byte", data: Uint8Array.of(0x5a) },
    { name: "text", data: text(24000, 1) },
    { name: "random", data: randomBytes(5000, 2) },
    { name: "zeros (one long overlapping match)", data: new Uint8Array(70000) },
    { name: "period 3 (offset < length)", data: period3 },
    { name: "byte runs", data: runs },
    { name: "four-letter alphabet", data: acgt },
    { name: "far repeats", data: farRepeat },
    { name: "mixed", data: mixed },
  ];
}

export interface Lz4FrameBlock {
  /** The block as stored: raw LZ4 block bytes, or the data itself when `stored`. */
  readonly bytes: Uint8Array;
  /** The encoder kept the block uncompressed (high bit of its size word). */
  readonly stored: boolean;
}

/**
 * Splits an LZ4 frame (the `lz4` CLI's output) into its blocks: magic 0x184D2204, FLG,
 * BD, optional content size and dictionary id, header checksum, then blocks each led by
 * a little-endian size word (bit 31: stored uncompressed), ending with a zero word.
 */
export function lz4FrameBlocks(frame: Uint8Array): Lz4FrameBlock[] {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(0, true) !== 0x184d2204) throw new Error("not an LZ4 frame");
  const flg = frame[4]!;
  const blockChecksum = (flg >>> 4) & 1;
  const contentSize = (flg >>> 3) & 1;
  const dictId = flg & 1;
  let p = 4 + 2 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1;
  const blocks: Lz4FrameBlock[] = [];
  for (;;) {
    const word = dv.getUint32(p, true);
    p += 4;
    if (word === 0) break;
    const len = word & 0x7fffffff;
    blocks.push({ bytes: frame.subarray(p, p + len), stored: word >>> 31 === 1 });
    p += len + (blockChecksum ? 4 : 0);
  }
  return blocks;
}

/** LZMA1 properties byte from lc/lp/pb. */
export function lzmaProps(lc: number, lp: number, pb: number): number {
  return (pb * 5 + lp) * 9 + lc;
}

/**
 * A raw LZMA1 stream (`xz --format=raw --lzma1=...`) as MicroLZMA: the range coder's
 * first output byte is always zero in LZMA1, and MicroLZMA stores the complement of the
 * properties byte there instead (liblzma's MicroLZMA encoder does exactly that).
 */
export function toMicroLzma(raw: Uint8Array, lc: number, lp: number, pb: number): Uint8Array {
  if (raw[0] !== 0) throw new Error(`LZMA1 stream starts with ${raw[0]}, not 0`);
  const m = raw.slice();
  m[0] = ~lzmaProps(lc, lp, pb) & 0xff;
  return m;
}

/** The raw DEFLATE body of a gzip member (RFC 1952: 10-byte header, optional fields, 8-byte trailer). */
export function gzipBody(gz: Uint8Array): Uint8Array {
  if (gz[0] !== 0x1f || gz[1] !== 0x8b || gz[2] !== 8) throw new Error("not a gzip deflate member");
  const flg = gz[3]!;
  let p = 10;
  if (flg & 4) p += 2 + (gz[p]! | (gz[p + 1]! << 8));
  if (flg & 8) while (gz[p++] !== 0);
  if (flg & 16) while (gz[p++] !== 0);
  if (flg & 2) p += 2;
  return gz.subarray(p, gz.length - 8);
}

/** Calls `fn`; returns "ok", or the error code of an ErofsError; anything else is rethrown. */
export async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    if (ErofsError.isInstance(e)) return e.code;
    throw e;
  }
}

/**
 * Feeds `decode` seeded mutations of each valid stream (bit flips, overwritten spans,
 * truncations, insertions, deletions, pure garbage) with varied output sizes and partial
 * flags. Every call must return or throw EFSCORRUPTED: any other exception fails with
 * the seed and iteration to replay it. Returns how many were rejected.
 * DECOMPRESS_FUZZ_SCALE=N in the environment runs N times as many iterations.
 */
export async function fuzzDecoder(
  streams: readonly { bytes: Uint8Array; size: number }[],
  decode: (input: Uint8Array, out: Uint8Array, partial: boolean) => unknown,
  iterations: number,
  seed: number,
): Promise<{ rejected: number; accepted: number }> {
  const r = prng(seed);
  let rejected = 0;
  let accepted = 0;
  const total = iterations * Math.max(1, Number(process.env.DECOMPRESS_FUZZ_SCALE) || 1);
  for (let it = 0; it < total; it++) {
    const base = streams[r() % streams.length]!;
    let input: Uint8Array;
    const kind = r() % 6;
    const src = base.bytes;
    if (kind === 0 || src.length === 0) {
      input = randomBytes(r() % 200, r());
    } else if (kind === 1) {
      input = src.slice();
      const flips = 1 + (r() % 4);
      for (let k = 0; k < flips; k++) input[r() % input.length]! ^= 1 << (r() & 7);
    } else if (kind === 2) {
      input = src.slice();
      const at = r() % input.length;
      const len = Math.min(input.length - at, 1 + (r() % 16));
      input.set(randomBytes(len, r()), at);
    } else if (kind === 3) {
      input = src.slice(0, r() % src.length);
    } else if (kind === 4) {
      const at = r() % src.length;
      const extra = randomBytes(1 + (r() % 8), r());
      input = new Uint8Array(src.length + extra.length);
      input.set(src.subarray(0, at));
      input.set(extra, at);
      input.set(src.subarray(at), at + extra.length);
    } else {
      const at = r() % src.length;
      const len = Math.min(src.length - at, 1 + (r() % 8));
      input = new Uint8Array(src.length - len);
      input.set(src.subarray(0, at));
      input.set(src.subarray(at + len), at);
    }
    const sizeKind = r() % 4;
    const size = sizeKind === 0 ? r() % (base.size + 64) : sizeKind === 1 ? base.size + 1 + (r() % 100) : base.size;
    const partial = (r() & 1) === 1;
    // Guard bytes after the output: a decoder given a view must not touch them.
    const backing = new Uint8Array(size + 32).fill(0xa5);
    const out = backing.subarray(0, size);
    try {
      await decode(input, out, partial);
      accepted++;
    } catch (e) {
      if (!ErofsError.isInstance(e) || e.code !== "EFSCORRUPTED") {
        throw new Error(`seed ${seed} iteration ${it} (mutation ${kind}, size ${size}, partial ${partial}): ${String(e)}`, { cause: e });
      }
      rejected++;
    }
    for (let i = size; i < backing.length; i++) {
      if (backing[i] !== 0xa5) throw new Error(`seed ${seed} iteration ${it}: wrote past the output at ${i}`);
    }
  }
  return { rejected, accepted };
}

/**
 * A zstd frame without a content size whose header claims a 1 GiB window, made of RLE
 * blocks (3-byte header + the byte): `blocks` blocks of `size` bytes of 0x41 + index.
 */
export function rleFrame(blocks: number, size: number): Uint8Array {
  const bytes = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3];
  for (let i = 0; i < blocks; i++) {
    const h = (size << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    bytes.push(h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, 0x41 + (i % 26));
  }
  return Uint8Array.from(bytes);
}

/**
 * A sized single-segment frame (RFC 8878) of a raw block of 1000 bytes, an RLE block of
 * 1000 bytes of 0x5a, and a last block of the reserved type 3, which no decoder accepts.
 */
export function frameDamagedAtTheEnd(): { frame: Uint8Array; good: Uint8Array } {
  const raw = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
  const block = (type: number, size: number, last: boolean) => {
    const h = (size << 3) | (type << 1) | (last ? 1 : 0);
    return [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff];
  };
  // Magic; header descriptor 0xa0: single segment, a 4-byte content size (3000).
  const bytes = [0x28, 0xb5, 0x2f, 0xfd, 0xa0, 3000 & 0xff, 3000 >>> 8, 0, 0];
  bytes.push(...block(0, 1000, false), ...raw, ...block(1, 1000, false), 0x5a, ...block(3, 1000, true), ...new Array(1000).fill(0));
  const good = new Uint8Array(2000);
  good.set(raw);
  good.fill(0x5a, 1000);
  return { frame: Uint8Array.from(bytes), good };
}

const VECTOR_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "test-vectors");

/**
 * The committed vectors (test-vectors/, made by test-vectors/generate.mjs with the Debian
 * encoders): for each sample NAME, NAME.bin is the data and NAME.<ext> its encoding.
 */
export function committedVectors(ext: string): { name: string; data: Uint8Array; encoded: Uint8Array }[] {
  const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith(`.${ext}`));
  return files.map((f) => {
    const name = f.slice(0, -(ext.length + 1));
    return {
      name,
      data: new Uint8Array(readFileSync(join(VECTOR_DIR, `${name}.bin`))),
      encoded: new Uint8Array(readFileSync(join(VECTOR_DIR, f))),
    };
  });
}
