import { describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { committedVectors, firstDiff, hasTool, lz4FrameBlocks, prng, runTool, samples } from "./codec.test-helper.js";
import { decodeLz4 } from "./lz4.js";
import { decodeLz4Fast, decodeLz4Wasm, lz4WasmAvailable } from "./lz4-wasm.js";

/** What a decoder does with the input: the bytes it wrote, or the error code and message. */
function result(decode: typeof decodeLz4, input: Uint8Array, size: number, partial: boolean): string {
  // Guard bytes around the output: neither decoder may write past it.
  const buf = new Uint8Array(size + 64).fill(0xa5);
  const out = buf.subarray(32, 32 + size);
  try {
    decode(input, out, partial);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return `${e.code}: ${e.message}`;
  }
  for (const i of [...Array(32).keys()]) if (buf[i] !== 0xa5 || buf[32 + size + i] !== 0xa5) return "wrote outside its output";
  return Buffer.from(out).toString("base64");
}

const NOT_VALID = "not valid";

/**
 * What the WebAssembly decoder alone does: the bytes it wrote, or NOT_VALID. Unlike
 * decodeLz4Fast, which hides a rejection behind the JS decoder, this shows whether the
 * wasm checks accept exactly what lz4.ts accepts.
 */
function wasmResult(input: Uint8Array, size: number, partial: boolean): string {
  const buf = new Uint8Array(size + 64).fill(0xa5);
  const out = buf.subarray(32, 32 + size);
  if (!decodeLz4Wasm(input, out, partial)) return NOT_VALID;
  for (const i of [...Array(32).keys()]) if (buf[i] !== 0xa5 || buf[32 + size + i] !== 0xa5) return "wrote outside its output";
  return Buffer.from(out).toString("base64");
}

/** The JS decoder's answer in wasmResult's terms. */
function jsResult(input: Uint8Array, size: number, partial: boolean): string {
  const r = result(decodeLz4, input, size, partial);
  return r.startsWith("EFSCORRUPTED") ? NOT_VALID : r;
}

const base64 = (bytes: ArrayLike<number>) => Buffer.from(Uint8Array.from(bytes)).toString("base64");

function lengthBytes(n: number): number[] {
  const out: number[] = [];
  for (; n >= 255; n -= 255) out.push(255);
  out.push(n);
  return out;
}

/**
 * An LZ4 block written sequence by sequence, beside the bytes it stands for, worked out
 * one byte at a time (so they do not depend on either decoder).
 */
class Block {
  readonly bytes: number[] = [];
  readonly data: number[] = [];

  /** `lit` literals, then `len` bytes from `offset` back (which may be invalid on purpose). */
  seq(lit: ArrayLike<number>, offset: number, len: number): this {
    this.bytes.push((Math.min(lit.length, 15) << 4) | Math.min(len - 4, 15));
    if (lit.length >= 15) this.bytes.push(...lengthBytes(lit.length - 15));
    this.bytes.push(...Array.from(lit), offset & 0xff, offset >> 8);
    if (len >= 19) this.bytes.push(...lengthBytes(len - 19));
    this.data.push(...Array.from(lit));
    for (let i = 0; i < len; i++) this.data.push(this.data[this.data.length - offset] ?? 0);
    return this;
  }

  /** The block, closed by a last sequence of `lit` literals only. */
  end(lit: ArrayLike<number> = []): { bytes: Uint8Array; data: Uint8Array } {
    this.bytes.push(Math.min(lit.length, 15) << 4);
    if (lit.length >= 15) this.bytes.push(...lengthBytes(lit.length - 15));
    this.bytes.push(...Array.from(lit));
    this.data.push(...Array.from(lit));
    return { bytes: Uint8Array.from(this.bytes), data: Uint8Array.from(this.data) };
  }
}

const rand = prng(0x1a4);
const noise = (n: number) => Array.from({ length: n }, () => rand() & 0xff);
/** Sequences enough to start a block with 60 bytes of output behind the next match. */
const prelude = () => new Block().seq(noise(40), 20, 20);

describe("decodeLz4Fast (WebAssembly) against decodeLz4 (JS)", () => {
  it("runs in WebAssembly here (else these comparisons would be JS against JS)", () => {
    expect(lz4WasmAvailable()).toBe(true);
  });

  const streams = committedVectors("lz4").map((v) => ({ bytes: v.encoded, size: v.data.length }));
  if (hasTool("lz4")) {
    for (const { data } of samples()) {
      for (const args of [["-1", "-B4"], ["-12", "-B4096"]]) {
        const blocks = lz4FrameBlocks(runTool("lz4", [...args, "--no-frame-crc", "-BI", "-c"], data));
        const bs = args[1] === "-B4" ? 65536 : 4096;
        blocks.forEach((b, i) => {
          if (!b.stored) streams.push({ bytes: b.bytes, size: Math.min(bs, data.length - i * bs) });
        });
      }
    }
  }

  it("decodes every valid block and every prefix of it to the same bytes", () => {
    expect(streams.length).toBeGreaterThan(3);
    for (const s of streams) {
      const full = new Uint8Array(s.size);
      expect(decodeLz4Wasm(s.bytes, full, false)).toBe(true);
      const ref = new Uint8Array(s.size);
      decodeLz4(s.bytes, ref, false);
      expect(firstDiff(full, ref)).toBe(-1);
      for (const k of [0, 1, 7, 8, 15, 16, 17, s.size >> 1, s.size - 1]) {
        if (k < 0 || k > s.size) continue;
        expect(wasmResult(s.bytes, k, true)).toBe(result(decodeLz4, s.bytes, k, true));
      }
    }
  });

  it("accepts and rejects exactly what the JS decoder does, with the same errors (seeded mutations)", () => {
    const rand = prng(0x5eed);
    let rejected = 0;
    for (let n = 0; n < 6000; n++) {
      const s = streams[rand() % streams.length]!;
      const bytes = s.bytes.slice(0, Math.max(1, s.bytes.length - (rand() % 3 === 0 ? rand() % 8 : 0)));
      for (let f = rand() % 4; f >= 0; f--) bytes[rand() % bytes.length] = rand() & 0xff;
      const size = rand() % 5 === 0 ? rand() % (s.size + 40) : s.size;
      const partial = rand() % 2 === 0;
      const fast = result(decodeLz4Fast, bytes, size, partial);
      expect(fast, `iteration ${n}`).toBe(result(decodeLz4, bytes, size, partial));
      expect(wasmResult(bytes, size, partial), `iteration ${n}`).toBe(jsResult(bytes, size, partial));
      if (fast.startsWith("EFSCORRUPTED")) rejected++;
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it("long matches and runs: offsets 1 to 20 over 64 KiB", () => {
    for (let off = 1; off <= 20; off++) {
      // `off` literal bytes, then one match repeating them to fill 65536 bytes.
      const lit = Uint8Array.from({ length: off }, (_, i) => i + 1);
      let rest = 65536 - off - 4 - 15;
      const ext: number[] = [];
      while (rest >= 255) {
        ext.push(255);
        rest -= 255;
      }
      ext.push(rest);
      const litLen = off < 15 ? [] : [off - 15];
      const block = Uint8Array.from([(Math.min(off, 15) << 4) | 15, ...litLen, ...lit, off, 0, ...ext, 0x00]);
      const out = new Uint8Array(65536);
      decodeLz4Fast(block, out, false);
      for (let i = 0; i < out.length; i++) if (out[i] !== (i % off) + 1) throw new Error(`offset ${off}: byte ${i}`);
    }
  });
});

// Hand-built blocks aimed at each path of the wasm decoder: the shortcut (sequences
// with at least 16 input and 32 output bytes after them), the careful path near the
// ends, the word and 32-byte step copies, and the offsets below 8 that repeat a period.
describe("decodeLz4Wasm on hand-built blocks, against their bytes and decodeLz4", () => {
  /** Decodes `b` in full, and with `partial` to each prefix size in `prefixes`. */
  function expectDecodes(b: { bytes: Uint8Array; data: Uint8Array }, label: string, prefixes: Iterable<number> = []): void {
    expect(wasmResult(b.bytes, b.data.length, false), label).toBe(base64(b.data));
    expect(jsResult(b.bytes, b.data.length, false), label).toBe(base64(b.data));
    for (const k of prefixes) expect(wasmResult(b.bytes, k, true), `${label}, prefix ${k}`).toBe(base64(b.data.subarray(0, k)));
  }

  it("matches of every offset 1–40 and length 4–80, away from the ends and ending the output", () => {
    for (let off = 1; off <= 40; off++) {
      for (let len = 4; len <= 80; len++) {
        // 14 literals and an 18-byte match make the most output one token gives.
        for (const lit of [3, 14]) {
          const label = `offset ${off}, length ${len}, ${lit} literals`;
          expectDecodes(prelude().seq(noise(lit), off, len).seq(noise(5), 30, 30).end(noise(20)), `${label}, inside`);
          // The output ends with the match: the stream closes with an empty last sequence.
          const last = prelude().seq(noise(lit), off, len).end();
          const stops = len <= 20 || len % 16 <= 1 ? range(last.data.length - len - lit - 2, last.data.length + 1) : [];
          expectDecodes(last, `${label}, at the end`, stops);
          // Without that last sequence the stream is only good for a prefix: it stops
          // once the output is full.
          const cut = last.bytes.subarray(0, last.bytes.length - 1);
          expect(wasmResult(cut, last.data.length, true), label).toBe(base64(last.data));
          expect(wasmResult(cut, last.data.length, false), label).toBe(NOT_VALID);
          expect(jsResult(cut, last.data.length, false), label).toBe(NOT_VALID);
        }
      }
    }
  });

  it("literal runs of 0–80 and longer, before a match and ending the output", () => {
    for (const n of [...range(0, 81), 127, 128, 129, 255, 269, 270, 271, 300, 1000]) {
      expectDecodes(prelude().seq(noise(n), 16, 20).seq(noise(2), 9, 30).end(noise(20)), `${n} literals, inside`);
      const last = prelude().end(noise(n));
      expectDecodes(last, `${n} literals, at the end`, range(Math.max(0, last.data.length - n - 2), last.data.length + 1));
    }
  });

  it("random blocks: any lengths and offsets, decoded in full and to every prefix", () => {
    for (let t = 0; t < 200; t++) {
      const b = prelude();
      for (let n = rand() % 40; n > 0; n--) {
        const lit = rand() % 4 === 0 ? rand() % 40 : rand() % 15;
        const len = 4 + (rand() % 3 === 0 ? rand() % 100 : rand() % 15);
        const room = b.data.length + lit;
        const off = 1 + (rand() % 2 === 0 ? rand() % Math.min(room, 20) : rand() % room);
        b.seq(noise(lit), off, len);
      }
      const block = b.end(noise(rand() % 30));
      expectDecodes(block, `block ${t}`, range(0, block.data.length + 1));
    }
  });

  it("offset 0 and offsets before the output start are rejected, in the shortcut and near the end", () => {
    for (const len of [4, 18, 19, 40]) {
      // Output before the match: 60 from the prelude + 3 literals.
      for (const off of [0, 63, 64, 65, 1000, 65535]) {
        const inside = prelude().seq(noise(3), off, len).seq(noise(5), 30, 30).end(noise(20));
        const atEnd = prelude().seq(noise(3), off, len).end();
        for (const [where, b] of [["inside", inside], ["at the end", atEnd]] as const) {
          const label = `offset ${off}, length ${len}, ${where}`;
          const expected = off === 0 || off > 63 ? NOT_VALID : base64(b.data);
          expect(wasmResult(b.bytes, b.data.length, false), label).toBe(expected);
          expect(jsResult(b.bytes, b.data.length, false), label).toBe(expected);
          expect(wasmResult(b.bytes, b.data.length, true), label).toBe(expected);
        }
      }
    }
  });

  it("truncated input, and outputs shorter or longer than the block, as decodeLz4 says", () => {
    const b = prelude()
      .seq(noise(2), 3, 40)
      .seq(noise(20), 70, 300)
      .seq(noise(1), 7, 9)
      .seq(noise(14), 100, 18)
      .end(noise(17));
    expectDecodes(b, "whole block");
    for (let cut = 0; cut < b.bytes.length; cut++) {
      const bytes = b.bytes.subarray(0, cut);
      for (const partial of [false, true]) {
        for (const size of [b.data.length, cut]) {
          expect(wasmResult(bytes, size, partial), `cut ${cut}, size ${size}, partial ${partial}`).toBe(jsResult(bytes, size, partial));
        }
      }
    }
    for (let size = 0; size <= b.data.length + 40; size++) {
      for (const partial of [false, true]) {
        const expected = partial && size <= b.data.length ? base64(b.data.subarray(0, size)) : size === b.data.length ? base64(b.data) : NOT_VALID;
        expect(wasmResult(b.bytes, size, partial), `size ${size}, partial ${partial}`).toBe(expected);
        expect(jsResult(b.bytes, size, partial), `size ${size}, partial ${partial}`).toBe(expected);
      }
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
