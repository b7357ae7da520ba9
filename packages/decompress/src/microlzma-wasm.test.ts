import { describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { committedVectors, firstDiff, hasTool, prng, runTool, samples, toMicroLzma } from "./codec.test-helper.js";
import { decodeMicroLzma } from "./microlzma.js";
import { decodeMicroLzmaFast, microLzmaWasmAvailable } from "./microlzma-wasm.js";

type Decode = typeof decodeMicroLzma;

/** What a decoder does with the input: the bytes it wrote, or the error code and message. */
function result(decode: Decode, input: Uint8Array, size: number, dict: number, partial: boolean): string {
  // Guard bytes around the output: neither decoder may write past it.
  const buf = new Uint8Array(size + 64).fill(0xa5);
  const out = buf.subarray(32, 32 + size);
  try {
    decode(input, out, dict, partial);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return `${e.code}: ${e.message}`;
  }
  for (let i = 0; i < 32; i++) if (buf[i] !== 0xa5 || buf[32 + size + i] !== 0xa5) return "wrote outside its output";
  return Buffer.from(out).toString("base64");
}

describe("decodeMicroLzmaFast (WebAssembly) against decodeMicroLzma (JS)", () => {
  it("runs in WebAssembly here (else these comparisons would be JS against JS)", () => {
    expect(microLzmaWasmAvailable()).toBe(true);
  });

  const streams = committedVectors("mlzma").map((v) => ({ bytes: v.encoded, size: v.data.length }));
  if (hasTool("xz")) {
    for (const { data } of samples()) {
      for (const [lc, lp, pb, extra] of [[3, 0, 2, "preset=6"], [0, 2, 0, "preset=0"], [1, 3, 4, "preset=9e"]] as const) {
        const raw = runTool("xz", ["--format=raw", `--lzma1=${extra},lc=${lc},lp=${lp},pb=${pb}`, "-c"], data);
        streams.push({ bytes: toMicroLzma(raw, lc, lp, pb), size: data.length });
      }
    }
  }

  it("decodes every stream, and prefixes of it, to the same bytes", () => {
    expect(streams.length).toBeGreaterThan(3);
    for (const s of streams) {
      const fast = new Uint8Array(s.size);
      decodeMicroLzmaFast(s.bytes, fast, 0, true);
      const ref = new Uint8Array(s.size);
      decodeMicroLzma(s.bytes, ref, 0, true);
      expect(firstDiff(fast, ref)).toBe(-1);
      // As an exact size: xz's end marker follows the data, so both refuse it alike.
      expect(result(decodeMicroLzmaFast, s.bytes, s.size, 0, false)).toBe(result(decodeMicroLzma, s.bytes, s.size, 0, false));
      for (const k of [0, 1, 2, 100, s.size >> 1, s.size - 1]) {
        if (k < 0 || k > s.size) continue;
        expect(result(decodeMicroLzmaFast, s.bytes, k, 0, true)).toBe(result(decodeMicroLzma, s.bytes, k, 0, true));
      }
    }
  });

  it("accepts and rejects exactly what the JS decoder does, with the same errors (seeded mutations)", () => {
    const rand = prng(0x1a2b);
    let rejected = 0;
    for (let n = 0; n < 3000; n++) {
      const s = streams[rand() % streams.length]!;
      const cut = rand() % 3 === 0 ? rand() % 16 : 0;
      const bytes = s.bytes.slice(0, Math.max(1, s.bytes.length - cut));
      for (let f = rand() % 4; f >= 0; f--) bytes[rand() % bytes.length] = rand() & 0xff;
      const size = Math.min(rand() % 5 === 0 ? rand() % (s.size + 40) : s.size, 30000);
      const dict = rand() % 4 === 0 ? 1 + (rand() % 4096) : 0;
      const partial = rand() % 2 === 0;
      const fast = result(decodeMicroLzmaFast, bytes, size, dict, partial);
      expect(fast, `iteration ${n}`).toBe(result(decodeMicroLzma, bytes, size, dict, partial));
      if (fast.startsWith("EFSCORRUPTED")) rejected++;
    }
    expect(rejected).toBeGreaterThan(500);
  });
});
