import { bad } from "./errors.js";

/**
 * MicroLZMA: a raw LZMA1 stream whose first byte is the bitwise complement of the
 * lc/lp/pb properties byte (where plain LZMA1's range coder has an always-zero byte),
 * followed by the range coder's 4 code bytes; no header, no end marker needed, sizes
 * known from the container. Each EROFS pcluster is one stream with an empty dictionary,
 * so the output buffer itself is the dictionary.
 */

const PROB_INIT = 1024;
const STATES = 12;
const POS_STATES_MAX = 16;
const LEN_LOW_BITS = 3;
const LEN_HIGH_BITS = 8;
const END_POS_MODEL = 14;
const FULL_DISTANCES = 128;
const ALIGN_BITS = 4;
/** EROFS caps the LZMA dictionary at 8 MiB (Z_EROFS_LZMA_MAX_DICT_SIZE). */
export const LZMA_MAX_DICT_SIZE = 8 << 20;

// Probability array layout (one Uint16Array, offsets below).
const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES_MAX;
const IS_REP_G0 = IS_REP + STATES;
const IS_REP_G1 = IS_REP_G0 + STATES;
const IS_REP_G2 = IS_REP_G1 + STATES;
const IS_REP0_LONG = IS_REP_G2 + STATES;
const POS_SLOT = IS_REP0_LONG + STATES * POS_STATES_MAX;
const SPEC_POS = POS_SLOT + 4 * 64;
const ALIGN = SPEC_POS + FULL_DISTANCES - END_POS_MODEL;
// Length coders: choice, choice2, low[16][8], mid[16][8], high[256].
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * (1 << LEN_LOW_BITS);
const LEN_HIGH = LEN_MID + POS_STATES_MAX * (1 << LEN_LOW_BITS);
const LEN_SIZE = LEN_HIGH + (1 << LEN_HIGH_BITS);
const MATCH_LEN = ALIGN + (1 << ALIGN_BITS);
const REP_LEN = MATCH_LEN + LEN_SIZE;
const LITERAL = REP_LEN + LEN_SIZE;

/**
 * Decodes a MicroLZMA stream into `out`. With `partial`, a stream that continues past
 * `out` is cut there; without it, a match running past the end is corruption.
 */
export function decodeMicroLzma(src: Uint8Array, out: Uint8Array, dictSize: number, partial: boolean): void {
  if (src.length < 5) throw bad("lzma", "stream shorter than its header");
  const props = ~src[0]! & 0xff;
  if (props >= 9 * 5 * 5) throw bad("lzma", `bad properties byte ${props}`);
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  const pb = Math.floor(props / 45);
  if (lc + lp > 4) throw bad("lzma", "lc + lp above 4");
  const dict = dictSize > 0 ? Math.min(dictSize, LZMA_MAX_DICT_SIZE) : LZMA_MAX_DICT_SIZE;
  const probs = new Uint16Array(LITERAL + (0x300 << (lc + lp))).fill(PROB_INIT);
  const pbMask = (1 << pb) - 1;
  const lpMask = (1 << lp) - 1;
  const inEnd = src.length;
  const outEnd = out.length;

  let range = 0xffffffff;
  let code = ((src[1]! << 24) | (src[2]! << 16) | (src[3]! << 8) | src[4]!) >>> 0;
  let inPos = 5;
  if (code === range) throw bad("lzma", "bad range coder start");

  // Range decoder primitives, written as closures over locals the JIT keeps in registers.
  const bit = (i: number): number => {
    if (range < 0x1000000) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | src[inPos++]!) >>> 0;
    }
    const p = probs[i]!;
    const bound = (range >>> 11) * p;
    if (code < bound) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      return 0;
    }
    range -= bound;
    code -= bound;
    probs[i] = p - (p >>> 5);
    return 1;
  };
  const tree = (base: number, bits: number): number => {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | bit(base + m);
    return m - (1 << bits);
  };
  const reverseTree = (base: number, bits: number): number => {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = bit(base + m);
      m = (m << 1) | b;
      sym |= b << i;
    }
    return sym;
  };
  const direct = (bits: number): number => {
    let res = 0;
    for (let i = 0; i < bits; i++) {
      if (range < 0x1000000) {
        range = (range << 8) >>> 0;
        code = ((code << 8) | src[inPos++]!) >>> 0;
      }
      range >>>= 1;
      let b = 0;
      if (code >= range) {
        code -= range;
        b = 1;
      }
      res = ((res << 1) | b) >>> 0;
    }
    return res;
  };
  const length = (base: number, posState: number): number => {
    if (bit(base + LEN_CHOICE) === 0) return tree(base + LEN_LOW + (posState << LEN_LOW_BITS), LEN_LOW_BITS);
    if (bit(base + LEN_CHOICE2) === 0) return 8 + tree(base + LEN_MID + (posState << LEN_LOW_BITS), LEN_LOW_BITS);
    return 16 + tree(base + LEN_HIGH, LEN_HIGH_BITS);
  };

  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  let d = 0;
  while (d < outEnd) {
    // Reading past the input (the `!` reads above yield undefined → 0) means truncation.
    if (inPos > inEnd) throw bad("lzma", "input ends early");
    const posState = d & pbMask;
    if (bit(IS_MATCH + (state << 4) + posState) === 0) {
      const prev = d > 0 ? out[d - 1]! : 0;
      const base = LITERAL + 0x300 * (((d & lpMask) << lc) + (prev >>> (8 - lc)));
      let sym = 1;
      if (state >= 7) {
        if (rep0 >= d) throw bad("lzma", "literal refers before the start");
        let matchByte = out[d - rep0 - 1]!;
        do {
          const matchBit = (matchByte >>> 7) & 1;
          matchByte <<= 1;
          const b = bit(base + ((1 + matchBit) << 8) + sym);
          sym = (sym << 1) | b;
          if (matchBit !== b) break;
        } while (sym < 0x100);
      }
      while (sym < 0x100) sym = (sym << 1) | bit(base + sym);
      out[d++] = sym & 0xff;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len: number;
    if (bit(IS_REP + state) === 1) {
      if (d === 0) throw bad("lzma", "repeat match at the start");
      if (bit(IS_REP_G0 + state) === 0) {
        if (bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
          state = state < 7 ? 9 : 11;
          out[d] = out[d - rep0 - 1]!;
          d++;
          continue;
        }
      } else {
        let dist: number;
        if (bit(IS_REP_G1 + state) === 0) {
          dist = rep1;
        } else {
          if (bit(IS_REP_G2 + state) === 0) {
            dist = rep2;
          } else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      len = length(REP_LEN, posState);
      state = state < 7 ? 8 : 11;
    } else {
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = length(MATCH_LEN, posState);
      state = state < 7 ? 7 : 10;
      const lenState = len < 3 ? len : 3;
      const slot = tree(POS_SLOT + (lenState << 6), 6);
      if (slot < 4) {
        rep0 = slot;
      } else {
        const nbits = (slot >>> 1) - 1;
        let dist = ((2 | (slot & 1)) << nbits) >>> 0;
        if (slot < END_POS_MODEL) {
          dist += reverseTree(SPEC_POS + dist - slot - 1, nbits);
        } else {
          dist += direct(nbits - ALIGN_BITS) * (1 << ALIGN_BITS);
          dist += reverseTree(ALIGN, ALIGN_BITS);
        }
        rep0 = dist >>> 0;
        if (rep0 === 0xffffffff) {
          // End marker: allowed only exactly at the end.
          if (d === outEnd) break;
          throw bad("lzma", `end marker after ${d} of ${outEnd} bytes`);
        }
      }
    }
    len += 2;
    if (rep0 >= d || rep0 >= dict) throw bad("lzma", `match distance ${rep0 + 1} at output ${d}`);
    if (d + len > outEnd) {
      if (!partial) throw bad("lzma", "match runs past the output");
      len = outEnd - d;
    }
    let from = d - rep0 - 1;
    if (rep0 + 1 >= len && len > 32) {
      out.copyWithin(d, from, from + len);
      d += len;
    } else {
      const end = d + len;
      while (d < end) out[d++] = out[from++]!;
    }
  }
  if (inPos > inEnd) throw bad("lzma", "input ends early");
}
