import { describe, expect, it } from "vitest";
import { joinWords, pow2 } from "./index.js";

describe("words", () => {
  it("pow2 is 2^bits over its whole range, never a negative shift result", () => {
    for (let bits = 0; bits <= 53; bits++) expect(pow2(bits)).toBe(Number(1n << BigInt(bits)));
  });

  it("joinWords is lo + hi × 2^32, exactly below 2^53", () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [0x7fff_ffff, 0],
      [0xffff_ffff, 0],
      [0, 1],
      [5, 0xffff],
      [0xffff_ffff, 0x1f_ffff],
    ];
    for (const [lo, hi] of cases) expect(joinWords(lo, hi)).toBe(Number((BigInt(hi) << 32n) + BigInt(lo)));
  });
});
