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
/** Sign bit: x ^ SIGN orders int32-held uint32 values as signed comparisons do. */
const SIGN = -0x80000000;
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

/** The probability layout, for the WebAssembly decoder (microlzma-wasm.ts). */
export const LZMA_LAYOUT = {
  IS_MATCH,
  IS_REP,
  IS_REP_G0,
  IS_REP_G1,
  IS_REP_G2,
  IS_REP0_LONG,
  POS_SLOT,
  SPEC_POS,
  ALIGN,
  LEN_CHOICE,
  LEN_CHOICE2,
  LEN_LOW,
  LEN_MID,
  LEN_HIGH,
  MATCH_LEN,
  REP_LEN,
  LITERAL,
  END_POS_MODEL,
  ALIGN_BITS,
  LEN_LOW_BITS,
  LEN_HIGH_BITS,
  PROB_INIT,
} as const;

/**
 * Decodes a MicroLZMA stream into `out`. With `partial`, a stream that continues past
 * `out` is cut there; without it, a stream that does not end exactly there is corruption.
 *
 * Written as one function with the range coder's state (range, code, inPos) in locals and
 * the bit decoder spelled out at each use: state captured by closures lives in a heap
 * context the JIT reloads on every access. With range and code also kept as int32 (see
 * SIGN), app-a-lzma's pclusters decode at ~54 MB/s instead of ~27.
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
  const litShift = 8 - lc;
  const inEnd = src.length;
  const outEnd = out.length;
  // range and code are uint32 values kept in int32 variables (so the JIT never boxes them
  // as doubles); unsigned comparisons flip the sign bit of both sides (x ^ SIGN).
  let range = -1;
  let code = (src[1]! << 24) | (src[2]! << 16) | (src[3]! << 8) | src[4]!;
  let inPos = 5;
  if (code === -1) throw bad("lzma", "bad range coder start");

  // Scratch for the inline bit decoder: p is the probability, bound the split point.
  let p = 0;
  let bound = 0;
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  let d = 0;
  while (d < outEnd) {
    // Reading past the input (src[inPos] yields undefined → 0) means truncation.
    if (inPos > inEnd) throw bad("lzma", "input ends early");
    const posState = d & pbMask;
    let i = IS_MATCH + (state << 4) + posState;
    if (range >>> 24 === 0) {
      range <<= 8;
      code = (code << 8) | src[inPos++]!;
    }
    p = probs[i]!;
    bound = Math.imul(range >>> 11, p);
    if ((code ^ SIGN) < (bound ^ SIGN)) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      // Literal.
      const prev = d > 0 ? out[d - 1]! : 0;
      const base = LITERAL + 0x300 * (((d & lpMask) << lc) + (prev >>> litShift));
      let sym = 1;
      if (state >= 7) {
        if (rep0 >= d) throw bad("lzma", "literal refers before the start");
        let matchByte = out[d - rep0 - 1]!;
        do {
          const matchBit = (matchByte >>> 7) & 1;
          matchByte <<= 1;
          i = base + ((1 + matchBit) << 8) + sym;
          if (range >>> 24 === 0) {
            range <<= 8;
            code = (code << 8) | src[inPos++]!;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          if ((code ^ SIGN) < (bound ^ SIGN)) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            sym <<= 1;
            if (matchBit !== 0) break;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[i] = p - (p >>> 5);
            sym = (sym << 1) | 1;
            if (matchBit !== 1) break;
          }
        } while (sym < 0x100);
      }
      while (sym < 0x100) {
        i = base + sym;
        if (range >>> 24 === 0) {
          range <<= 8;
          code = (code << 8) | src[inPos++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          sym <<= 1;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
          sym = (sym << 1) | 1;
        }
      }
      out[d++] = sym & 0xff;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    range = (range - bound) | 0;
    code = (code - bound) | 0;
    probs[i] = p - (p >>> 5);

    // A match: decide between a new distance and one of the last four (isRep).
    let lenBase: number;
    i = IS_REP + state;
    if (range >>> 24 === 0) {
      range <<= 8;
      code = (code << 8) | src[inPos++]!;
    }
    p = probs[i]!;
    bound = Math.imul(range >>> 11, p);
    if ((code ^ SIGN) < (bound ^ SIGN)) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      lenBase = MATCH_LEN;
      state = state < 7 ? 7 : 10;
    } else {
      range = (range - bound) | 0;
      code = (code - bound) | 0;
      probs[i] = p - (p >>> 5);
      if (d === 0) throw bad("lzma", "repeat match at the start");
      i = IS_REP_G0 + state;
      if (range >>> 24 === 0) {
        range <<= 8;
        code = (code << 8) | src[inPos++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      if ((code ^ SIGN) < (bound ^ SIGN)) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        // rep0: a single byte (short rep) or a length follows (isRep0Long).
        i = IS_REP0_LONG + (state << 4) + posState;
        if (range >>> 24 === 0) {
          range <<= 8;
          code = (code << 8) | src[inPos++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          state = state < 7 ? 9 : 11;
          out[d] = out[d - rep0 - 1]!;
          d++;
          continue;
        }
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
        let dist: number;
        i = IS_REP_G1 + state;
        if (range >>> 24 === 0) {
          range <<= 8;
          code = (code << 8) | src[inPos++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          dist = rep1;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
          i = IS_REP_G2 + state;
          if (range >>> 24 === 0) {
            range <<= 8;
            code = (code << 8) | src[inPos++]!;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          if ((code ^ SIGN) < (bound ^ SIGN)) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            dist = rep2;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[i] = p - (p >>> 5);
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      lenBase = REP_LEN;
      state = state < 7 ? 8 : 11;
    }

    // Length: choice bits pick the low (3 bits), mid (3 bits) or high (8 bits) tree.
    let treeBase: number;
    let treeBits: number;
    let len: number;
    i = lenBase + LEN_CHOICE;
    if (range >>> 24 === 0) {
      range <<= 8;
      code = (code << 8) | src[inPos++]!;
    }
    p = probs[i]!;
    bound = Math.imul(range >>> 11, p);
    if ((code ^ SIGN) < (bound ^ SIGN)) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      treeBase = lenBase + LEN_LOW + (posState << LEN_LOW_BITS);
      treeBits = LEN_LOW_BITS;
      len = 0;
    } else {
      range = (range - bound) | 0;
      code = (code - bound) | 0;
      probs[i] = p - (p >>> 5);
      i = lenBase + LEN_CHOICE2;
      if (range >>> 24 === 0) {
        range <<= 8;
        code = (code << 8) | src[inPos++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      if ((code ^ SIGN) < (bound ^ SIGN)) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        treeBase = lenBase + LEN_MID + (posState << LEN_LOW_BITS);
        treeBits = LEN_LOW_BITS;
        len = 8;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
        treeBase = lenBase + LEN_HIGH;
        treeBits = LEN_HIGH_BITS;
        len = 16;
      }
    }
    let m = 1;
    const treeTop = 1 << treeBits;
    while (m < treeTop) {
      i = treeBase + m;
      if (range >>> 24 === 0) {
        range <<= 8;
        code = (code << 8) | src[inPos++]!;
      }
      p = probs[i]!;
      bound = Math.imul(range >>> 11, p);
      if ((code ^ SIGN) < (bound ^ SIGN)) {
        range = bound;
        probs[i] = p + ((2048 - p) >>> 5);
        m <<= 1;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[i] = p - (p >>> 5);
        m = (m << 1) | 1;
      }
    }
    len += m - treeTop;

    if (lenBase === MATCH_LEN) {
      // New distance: a 6-bit slot, then reverse-coded or direct bits below it.
      const slotBase = POS_SLOT + ((len < 3 ? len : 3) << 6);
      m = 1;
      while (m < 64) {
        i = slotBase + m;
        if (range >>> 24 === 0) {
          range <<= 8;
          code = (code << 8) | src[inPos++]!;
        }
        p = probs[i]!;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) {
          range = bound;
          probs[i] = p + ((2048 - p) >>> 5);
          m <<= 1;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[i] = p - (p >>> 5);
          m = (m << 1) | 1;
        }
      }
      const slot = m - 64;
      if (slot < 4) {
        rep0 = slot;
      } else {
        const nbits = (slot >>> 1) - 1;
        let dist = ((2 | (slot & 1)) << nbits) >>> 0;
        let revBase: number;
        let revBits: number;
        if (slot < END_POS_MODEL) {
          revBase = SPEC_POS + dist - slot - 1;
          revBits = nbits;
        } else {
          let direct = 0;
          for (let k = nbits - ALIGN_BITS; k > 0; k--) {
            if (range >>> 24 === 0) {
              range <<= 8;
              code = (code << 8) | src[inPos++]!;
            }
            range >>>= 1;
            if ((code ^ SIGN) >= (range ^ SIGN)) {
              code = (code - range) | 0;
              direct = (direct << 1) | 1;
            } else {
              direct <<= 1;
            }
          }
          dist += (direct >>> 0) * (1 << ALIGN_BITS);
          revBase = ALIGN;
          revBits = ALIGN_BITS;
        }
        m = 1;
        let rev = 0;
        for (let k = 0; k < revBits; k++) {
          i = revBase + m;
          if (range >>> 24 === 0) {
            range <<= 8;
            code = (code << 8) | src[inPos++]!;
          }
          p = probs[i]!;
          bound = Math.imul(range >>> 11, p);
          if ((code ^ SIGN) < (bound ^ SIGN)) {
            range = bound;
            probs[i] = p + ((2048 - p) >>> 5);
            m <<= 1;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[i] = p - (p >>> 5);
            m = (m << 1) | 1;
            rev |= 1 << k;
          }
        }
        rep0 = (dist + rev) >>> 0;
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
  // Decoded to a size known to be exact, the kernel's decoder (XZ's pedantic MicroLZMA
  // mode) also wants the stream to end there: once the range coder is normalized, every
  // input byte taken and its code 0. An extent cut short by a damaged index fails so (real
  // mutant 531385).
  if (!partial) {
    if (range >>> 24 === 0) code = (code << 8) | (src[inPos++] ?? 0);
    if (inPos !== inEnd || code !== 0) throw bad("lzma", `stream does not end with its ${outEnd} bytes`);
  }
}
