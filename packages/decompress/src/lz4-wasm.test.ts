import { describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { committedVectors, firstDiff, hasTool, lz4FrameBlocks, prng, runTool, samples } from "./codec.test-helper.js";
import { decodeLz4 } from "./lz4.js";
import { decodeLz4Fast, lz4WasmAvailable } from "./lz4-wasm.js";

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
      decodeLz4Fast(s.bytes, full, false);
      const ref = new Uint8Array(s.size);
      decodeLz4(s.bytes, ref, false);
      expect(firstDiff(full, ref)).toBe(-1);
      for (const k of [0, 1, 7, 8, 15, 16, 17, s.size >> 1, s.size - 1]) {
        if (k < 0 || k > s.size) continue;
        expect(result(decodeLz4Fast, s.bytes, k, true)).toBe(result(decodeLz4, s.bytes, k, true));
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
