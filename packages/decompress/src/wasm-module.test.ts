import { describe, expect, it } from "vitest";
import { RETAINED_MEMORY, stagingFor, type WasmDecoder, type WasmMemory } from "./wasm-module.js";
import { decodeLz4Fast, lz4WasmAvailable } from "./lz4-wasm.js";
import { decodeLz4 } from "./lz4.js";

// The package compiles without DOM types: the Memory constructor is typed here.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => WasmMemory } }).WebAssembly;

/** A decoder whose memory is a real WebAssembly.Memory, counting the instances made. */
function decoder(made: { count: number }): WasmDecoder<() => number> {
  made.count++;
  const memory = new Memory({ initial: 1 });
  return { memory, bytes: new Uint8Array(memory.buffer), decode: () => 0, another: () => decoder(made) };
}

describe("WebAssembly staging memory", () => {
  it("grows the kept instance up to RETAINED_MEMORY and gives larger calls an instance of their own", () => {
    const made = { count: 0 };
    const kept = decoder(made);
    const small = stagingFor(kept, 3 << 20);
    expect(small).toBe(kept);
    expect(kept.bytes.length).toBeGreaterThanOrEqual(3 << 20);
    const big = stagingFor(kept, RETAINED_MEMORY + 1);
    expect(big).not.toBe(kept);
    expect(big.bytes.length).toBeGreaterThan(RETAINED_MEMORY);
    // The kept instance did not grow for the large call: its memory stays what it was.
    expect(kept.bytes.length).toBeLessThanOrEqual(RETAINED_MEMORY);
    expect(made.count).toBe(2);
  });

  it.skipIf(!lz4WasmAvailable())("an LZ4 block larger than the retained memory decodes exactly", () => {
    // 6 MiB of varied bytes as literals-only LZ4 (token 0xF0 with length bytes): valid
    // input built by hand, decoded by both decoders.
    const size = 6 << 20;
    const plain = new Uint8Array(size);
    for (let i = 0; i < size; i++) plain[i] = (i * 2654435761) >>> 24;
    const lenBytes: number[] = [];
    for (let rest = size - 15; ; rest -= 255) {
      if (rest >= 255) lenBytes.push(255);
      else {
        lenBytes.push(rest);
        break;
      }
    }
    const src = new Uint8Array(1 + lenBytes.length + size);
    src[0] = 0xf0;
    src.set(lenBytes, 1);
    src.set(plain, 1 + lenBytes.length);
    const fast = new Uint8Array(size);
    decodeLz4Fast(src, fast, false);
    const slow = new Uint8Array(size);
    decodeLz4(src, slow, false);
    expect(Buffer.from(fast).equals(Buffer.from(plain))).toBe(true);
    expect(Buffer.from(slow).equals(Buffer.from(plain))).toBe(true);
  });
});
