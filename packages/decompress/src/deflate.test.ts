import { constants, deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { committedVectors, firstDiff, fuzzDecoder, gzipBody, hasTool, outcome, prng, runTool, samples } from "./codec.test-helper.js";
import { decodeOnce } from "./deflate.js";
import { ErofsError } from "@erofs-ts/format";
import { decodeDeflate, shortStreamLength } from "./index.js";

const HAVE_GZIP = hasTool("gzip");

describe("decodeDeflate: committed vectors (gzip CLI)", () => {
  const vectors = committedVectors("deflate");
  it("has vectors", () => expect(vectors.length).toBeGreaterThanOrEqual(3));
  for (const v of vectors) {
    it(`${v.name}: exact output and prefixes`, () => {
      const out = new Uint8Array(v.data.length);
      decodeDeflate(v.encoded, out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
      for (const k of [0, 1, v.data.length >> 1, v.data.length - 1]) {
        const prefix = new Uint8Array(k);
        decodeDeflate(v.encoded, prefix, true);
        expect(firstDiff(prefix, v.data.subarray(0, k))).toBe(-1);
      }
    });
  }
});

describe("decodeDeflate: round trip", () => {
  for (const { name, data } of samples()) {
    it(`${name} (${data.length} bytes): node:zlib levels 0, 1, 9 and window sizes`, () => {
      for (const [level, windowBits] of [
        [0, 15],
        [1, 15],
        [9, 15],
        [9, 12],
        [6, 9],
      ] as const) {
        const out = new Uint8Array(data.length);
        decodeDeflate(deflateRawSync(data, { level, windowBits }), out, false);
        expect(firstDiff(out, data), `level ${level} window ${windowBits}`).toBe(-1);
      }
    });
  }

  it.skipIf(!HAVE_GZIP)("the gzip CLI's output (-1 and -9)", () => {
    for (const { name, data } of samples()) {
      for (const level of ["-1", "-9"]) {
        const out = new Uint8Array(data.length);
        decodeDeflate(gzipBody(runTool("gzip", ["-n", level, "-c"], data)), out, false);
        expect(firstDiff(out, data), `${name} ${level}`).toBe(-1);
      }
    }
  });

  it("a stream that reaches 32 KiB back decodes, and a reach beyond 32 KiB is corrupt", async () => {
    const data = samples().find((s) => s.name === "far repeats")!.data;
    const stream = deflateRawSync(data, { level: 9, windowBits: 15 });
    expect(await outcome(() => decodeDeflate(stream, new Uint8Array(data.length), false))).toBe("ok");
    // 40000 stored bytes, then a fixed-Huffman block whose only match points 32768 bytes
    // back (the farthest DEFLATE can express), or 32769 (reserved distance code 30).
    expect(await outcome(() => decodeDeflate(farReach(40000, 32769), new Uint8Array(40003), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeDeflate(farReach(40000, 32768), new Uint8Array(40003), false))).toBe("ok");
  });
});

describe("decodeDeflate: output size", () => {
  const data = samples().find((s) => s.name === "text")!.data;
  const stream = deflateRawSync(data);

  it("partial: any prefix, nothing written past the output", () => {
    const r = prng(9);
    for (let t = 0; t < 30; t++) {
      const k = r() % data.length;
      const backing = new Uint8Array(k + 16).fill(0xee);
      decodeDeflate(stream, backing.subarray(0, k), true);
      expect(firstDiff(backing.subarray(0, k), data.subarray(0, k))).toBe(-1);
      expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
    }
  });

  it("without partial, a stream longer or shorter than the output is corrupt and leaves it untouched", async () => {
    for (const size of [0, 1, data.length - 1, data.length + 1, data.length * 2]) {
      const backing = new Uint8Array(size + 16).fill(0xee);
      expect(await outcome(() => decodeDeflate(stream, backing.subarray(0, size), false)), `size ${size}`).toBe("EFSCORRUPTED");
      expect(backing.every((b) => b === 0xee)).toBe(true);
    }
    expect(await outcome(() => decodeDeflate(stream, new Uint8Array(data.length + 1), true))).toBe("EFSCORRUPTED");
  });

  it("a bomb decodes no further than its output: refused whole, its prefix taken when partial", async () => {
    const bomb = deflateRawSync(new Uint8Array(64 << 20));
    expect(bomb.length).toBeLessThan(128 << 10);
    expect(await outcome(() => decodeDeflate(bomb, new Uint8Array(4096), false))).toBe("EFSCORRUPTED");
    const prefix = new Uint8Array(4096).fill(0xee);
    decodeDeflate(bomb, prefix, true);
    expect(prefix.every((b) => b === 0)).toBe(true);
  });

  it("partial: damage after the prefix is not read, as the kernel's partial decode stops once its output is full", async () => {
    // Two runs of blocks, each ended by a sync flush, then a block header of the reserved
    // type (BFINAL 1, BTYPE 11): zlib fails there, once it gets that far.
    const [a, b] = [data.subarray(0, 5000), data.subarray(5000, 10000)];
    const sync = { finishFlush: constants.Z_SYNC_FLUSH };
    const broken = Buffer.concat([deflateRawSync(a, sync), deflateRawSync(b, sync), Buffer.from([0x07, 0, 0, 0])]);
    for (const decode of [decodeDeflate, decodeOnce]) {
      expect(await outcome(() => decode(broken, new Uint8Array(10000), false))).toBe("EFSCORRUPTED");
      // A prefix ending inside the second run never reaches the bad header.
      const prefix = new Uint8Array(7000);
      decode(broken, prefix, true);
      expect(firstDiff(prefix, data.subarray(0, 7000))).toBe(-1);
    }
  });
});

describe("decodeDeflate: one stream after another", () => {
  it("each decodes as if it were the first, whatever came before: other streams, corrupt ones, partial ones", async () => {
    const streams = [...committedVectors("deflate"), ...samples().map((s) => ({ name: s.name, data: s.data, encoded: deflateRawSync(s.data, { level: 6 }) }))];
    const r = prng(77);
    for (let t = 0; t < 200; t++) {
      const v = streams[r() % streams.length]!;
      switch (r() % 4) {
        case 0: {
          // Garbage: the decoder that refused it must not poison the next stream.
          const junk = Uint8Array.from({ length: 1 + (r() % 64) }, () => r() & 0xff);
          const o = await outcome(() => decodeDeflate(junk, new Uint8Array(1 + (r() % 4096)), r() % 2 === 0));
          expect(["ok", "EFSCORRUPTED"]).toContain(o);
          break;
        }
        case 1: {
          // Partial with the whole length: the stream ends exactly at the output's end.
          const out = new Uint8Array(v.data.length);
          decodeDeflate(v.encoded, out, true);
          expect(firstDiff(out, v.data), v.name).toBe(-1);
          break;
        }
        default: {
          const out = new Uint8Array(v.data.length);
          decodeDeflate(v.encoded, out, false);
          expect(firstDiff(out, v.data), v.name).toBe(-1);
        }
      }
    }
  });
});

describe("decodeDeflate without the reused stream (node:zlib's inflateRawSync, where zlib's internals differ)", () => {
  /** "ok" and the bytes written, or the error code; the output starts poisoned. */
  const result = (decode: typeof decodeDeflate, input: Uint8Array, size: number, partial: boolean): string => {
    const out = new Uint8Array(size).fill(0xee);
    try {
      decode(input, out, partial);
    } catch (e) {
      return (e as { code?: string }).code ?? "untyped";
    }
    return `ok ${Buffer.from(out).toString("base64")}`;
  };

  it("gives what the reused stream gives, byte for byte and error for error", () => {
    const r = prng(0x0dd);
    const inputs = committedVectors("deflate").map((v) => ({ bytes: v.encoded, size: v.data.length }));
    let corrupt = 0;
    for (let t = 0; t < 600; t++) {
      const base = inputs[r() % inputs.length]!;
      const bytes = Uint8Array.from(base.bytes);
      // Half the time a few bytes flipped or the stream cut short.
      if (t % 2) {
        for (let k = 0; k < 1 + (r() % 3); k++) {
          const at = r() % bytes.length;
          bytes[at] = bytes[at]! ^ (1 << (r() % 8));
        }
      }
      const input = t % 5 === 0 ? bytes.subarray(0, r() % bytes.length) : bytes;
      const size = [base.size, base.size - 1, base.size + 1, r() % (base.size + 1)][r() % 4]!;
      const partial = r() % 2 === 0;
      const want = result(decodeOnce, input, Math.max(0, size), partial);
      expect(result(decodeDeflate, input, Math.max(0, size), partial), `case ${t}`).toBe(want);
      if (!want.startsWith("ok")) corrupt++;
    }
    expect(corrupt).toBeGreaterThan(100);
  });
});

describe("decodeDeflate: corrupt input", () => {
  it("truncated streams are rejected", async () => {
    for (const v of committedVectors("deflate")) {
      for (const keep of [0, 1, v.encoded.length >> 2, v.encoded.length >> 1]) {
        expect(await outcome(() => decodeDeflate(v.encoded.subarray(0, keep), new Uint8Array(v.data.length), false))).toBe("EFSCORRUPTED");
      }
    }
  });

  it("a whole stream shorter than its output is corrupt and says how far it went; a cut-off one does not", () => {
    for (const v of committedVectors("deflate")) {
      if (v.data.length < 2) continue;
      for (const decode of [decodeDeflate, decodeOnce]) {
        // node:zlib's encoder, an independent one: its stream of all but the last byte.
        const short = deflateRawSync(v.data.subarray(0, v.data.length - 1));
        const whole = catchError(() => decode(short, new Uint8Array(v.data.length), false));
        expect(ErofsError.isInstance(whole) && whole.code).toBe("EFSCORRUPTED");
        expect(shortStreamLength(whole)).toBe(v.data.length - 1);
        const cut = catchError(() => decode(short.subarray(0, short.length - 1), new Uint8Array(v.data.length), false));
        expect(ErofsError.isInstance(cut) && cut.code).toBe("EFSCORRUPTED");
        expect(shortStreamLength(cut)).toBeUndefined();
      }
    }
  });

  it("reserved block type 3 and garbage are rejected", async () => {
    expect(await outcome(() => decodeDeflate(Uint8Array.of(0x07, 0, 0, 0), new Uint8Array(4), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeDeflate(Uint8Array.of(0xff, 0xff, 0xff, 0xff), new Uint8Array(4), true))).toBe("EFSCORRUPTED");
  });

  it("seeded mutations and garbage give EFSCORRUPTED or a result, nothing else, never past the output", async () => {
    const streams = committedVectors("deflate").map((v) => ({ bytes: v.encoded, size: v.data.length }));
    const { rejected } = await fuzzDecoder(streams, (i, o, p) => decodeDeflate(i, o, p), 3000, 0xdef1);
    expect(rejected).toBeGreaterThan(1000);
  });
});

/**
 * A raw DEFLATE stream: `literals` zero bytes in stored blocks, then a final fixed-Huffman
 * block holding one match of length 3 at `distance` and the end-of-block code.
 */
function farReach(literals: number, distance: number): Uint8Array {
  const out: number[] = [];
  for (let left = literals; left > 0; ) {
    const n = Math.min(left, 65535);
    left -= n;
    // BFINAL=0, BTYPE=00 (stored), padded to a byte; LEN and NLEN; the bytes.
    out.push(0x00, n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff, ...new Array<number>(n).fill(0));
  }
  const bits: number[] = [];
  const put = (value: number, count: number) => {
    for (let i = 0; i < count; i++) bits.push((value >> i) & 1);
  };
  // Huffman codes are sent most significant bit first; extra bits least significant first.
  const putCode = (code: number, count: number) => {
    for (let i = count - 1; i >= 0; i--) bits.push((code >> i) & 1);
  };
  put(1, 1); // BFINAL
  put(1, 2); // BTYPE=01, fixed Huffman
  putCode(0b0000001, 7); // length code 257: length 3
  // Distance codes 0..29 (5 bits each): code c covers base(c) .. base(c) + 2^extra(c) - 1.
  const { code, extra, base } = distanceCode(distance);
  putCode(code, 5);
  put(distance - base, extra);
  putCode(0b0000000, 7); // 256: end of block
  while (bits.length % 8) bits.push(0);
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((v, b, j) => v | (b << j), 0));
  return Uint8Array.from(out);
}

function distanceCode(distance: number): { code: number; extra: number; base: number } {
  let base = 1;
  for (let code = 0; code < 32; code++) {
    const extra = code < 4 ? 0 : (code >> 1) - 1;
    if (distance < base + (1 << extra)) return { code, extra, base };
    base += 1 << extra;
  }
  throw new RangeError(`distance ${distance}`);
}

/** What `run` throws (undefined if it returns). */
function catchError(run: () => void): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  return undefined;
}
