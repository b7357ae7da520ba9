import { decodeLz4 } from "./lz4.js";
import { BLOCK_VOID, WASM_OP, stagingFor, instantiate, sleb, uleb, type WasmDecoder } from "./wasm-module.js";

/**
 * LZ4 block decoding in WebAssembly, assembled here from the instruction list below (no
 * toolchain, no binary in the repository). Wasm has what the JS decoder lacks: unaligned
 * 64-bit loads and stores and `memory.copy`. And because the decoder writes into its own
 * memory, it copies in whole words and may run past the end of a literal run or match
 * (into slack, or bytes the next sequence overwrites) instead of finishing byte by byte.
 *
 * Most sequences take a shortcut (see IN_ROOM) that makes no checks at all, because where
 * it applies none could fail; the rest take the careful path, which checks what lz4.ts
 * checks. The module only answers "valid, decoded" or "not valid": on "not valid" the JS
 * decoder runs on the same input and raises its precise error (or, should the two ever
 * disagree, its own output stands).
 *
 * No SIMD: a build copying in 16-byte v128 units (which need match offsets ≥ 16 where
 * words need ≥ 8) measured 1–5% slower than this one on the corpus.
 *
 * Memory layout per call: input at 0, output at `dst` (input length + slack, 8-aligned),
 * SLACK bytes after each.
 */

/** The bytes one iteration of a copy loop moves: loops end up to STEP - 1 bytes past their end. */
const STEP = 32;
/** After the input, so reads past a literal run stay in memory; after the output, for writes past it. */
const SLACK = STEP;
/** Largest input + output one call may stage: two pclusters' worth (see MAX_DECODED elsewhere). */
const MAX_MEMORY = 64 << 20;

/**
 * The shortcut decodes a sequence whole when its token needs no length bytes, its match
 * offset is at least a word and reaches no further back than the output start, and
 * it starts with s + IN_ROOM < srcLen and d + OUT_ROOM < dEnd. Its token, ≤ 14 literals
 * and 2 offset bytes then lie inside the input with more input after them (so it is not
 * the last sequence), and its ≤ 14 literals and ≤ 18 match bytes end before the output
 * does (so it neither overflows nor fills the output): no check of the careful path could
 * fail. On the corpus 80–85% of sequences take it whole, and 11–18% more take it up to a
 * match with length bytes, whose offset it has checked by then.
 */
const IN_ROOM = 16;
const OUT_ROOM = 32;
/** The most literals, and match bytes, a token alone can give. */
const TOKEN_LITERALS = 14;
const TOKEN_MATCH = 18;
/**
 * Literal runs and non-overlapping matches longer than this go through `memory.copy`;
 * shorter ones through the copy loop, which costs less than the call (a limit of 32 was
 * slower on the corpus, 256 no faster).
 */
const LONG_COPY = 64;

const OP = WASM_OP;
const VOID = BLOCK_VOID;

// Parameters and locals of the decode function (all i32).
const SRC_LEN = 0;
const DST = 1;
const DST_LEN = 2;
const PARTIAL = 3;
const S = 4;
const D = 5;
const D_END = 6;
const TOKEN = 7;
const LIT = 8;
const B = 9;
const OFF = 10;
const LEN = 11;
const FROM = 12;
const E = 13;
const TO = 14;
const S_SHORT = 15; // srcLen - IN_ROOM
const D_SHORT = 16; // dEnd - OUT_ROOM
const LOCALS = 13; // S..D_SHORT

/** The decode function's body: (srcLen, dst, dstLen, partial) → 0 decoded, 1 not valid. */
function body(): number[] {
  const c: number[] = [];
  const get = (l: number) => c.push(OP.get, l);
  const set = (l: number) => c.push(OP.set, l);
  const tee = (l: number) => c.push(OP.tee, l);
  const k = (n: number) => c.push(OP.const, ...sleb(n));
  const op = (...ops: number[]) => c.push(...ops);
  const mem = (opcode: number, align: number, offset = 0) => c.push(opcode, align, ...uleb(offset));
  const memoryCopy = () => c.push(0xfc, 0x0a, 0x00, 0x00);
  /** if (condition on the stack) return `code`. */
  const failIf = (code = 1) => {
    op(OP.if, VOID);
    k(code);
    op(OP.return, OP.end);
  };
  const inc = (l: number, by: number | (() => void)) => {
    get(l);
    if (typeof by === "number") k(by);
    else by();
    op(OP.add);
    set(l);
  };
  /**
   * At least `bytes` from `from` + fromOff to `to` + toOff, one 8-byte word after the
   * other: right for a match whenever its offset is ≥ 8, as each word then reads only
   * older bytes or ones an earlier word wrote.
   */
  const words = (to: number, toOff: number, from: number, fromOff: number, bytes: number) => {
    for (let i = 0; i < bytes; i += 8) {
      get(to);
      get(from);
      mem(OP.i64Load, 0, fromOff + i);
      mem(OP.i64Store, 0, toOff + i);
    }
  };
  /**
   * Copies STEP bytes at a time from FROM to TO (both advanced) until TO reaches E: at
   * least once, and up to STEP - 1 bytes past E (into SLACK, at the output's end).
   */
  const steps = () => {
    op(OP.loop, VOID);
    words(TO, 0, FROM, 0, STEP);
    inc(TO, STEP);
    inc(FROM, STEP);
    get(TO);
    get(E);
    op(OP.ltU, OP.brIf, 0, OP.end);
  };
  /** Reads 255-continued length bytes into `l` (input checked per byte). */
  const lengthBytes = (l: number) => {
    op(OP.loop, VOID);
    get(S);
    get(SRC_LEN);
    op(OP.geU);
    failIf();
    get(S);
    mem(OP.load8, 0);
    set(B);
    inc(S, 1);
    inc(l, () => get(B));
    get(B);
    k(255);
    op(OP.eq, OP.brIf, 0, OP.end);
  };

  // d = dst; dEnd = dst + dstLen; s = 0 (locals start at 0)
  get(DST);
  set(D);
  get(DST);
  get(DST_LEN);
  op(OP.add);
  tee(D_END);
  k(OUT_ROOM);
  op(OP.sub);
  set(D_SHORT);
  get(SRC_LEN);
  k(IN_ROOM);
  op(OP.sub);
  set(S_SHORT);

  op(OP.loop, VOID); // one sequence per iteration
  op(OP.block, VOID); // exits to the match's length, with s past its offset
  op(OP.block, VOID); // exits to the match's offset, with s at it
  op(OP.block, VOID); // exits to the careful path, with s at the token

  // The shortcut (see IN_ROOM). Signed compares: the limits are negative for short blocks.
  // Each exit leaves s where the careful path it joins expects it.
  get(S);
  get(S_SHORT);
  op(OP.geS, OP.brIf, 0);
  get(D);
  get(D_SHORT);
  op(OP.geS, OP.brIf, 0);
  get(S);
  mem(OP.load8, 0);
  tee(TOKEN);
  k(4);
  op(OP.shrU);
  tee(LIT);
  k(15);
  op(OP.eq, OP.brIf, 0);
  words(D, 0, S, 1, TOKEN_LITERALS); // the excess is overwritten later
  get(S);
  get(LIT);
  op(OP.add);
  k(1);
  op(OP.add);
  tee(S);
  mem(OP.load16, 0);
  set(OFF);
  get(D);
  get(LIT);
  op(OP.add);
  set(D);
  // An offset of at least a word that reaches no further back than the output start
  // (which also rules out 0) needs no more checks.
  get(OFF);
  k(8);
  op(OP.ltU, OP.brIf, 1);
  get(OFF);
  get(D);
  get(DST);
  op(OP.sub, OP.gtU, OP.brIf, 1);
  inc(S, 2);
  get(TOKEN);
  k(15);
  op(OP.and);
  tee(LEN);
  k(15);
  op(OP.eq, OP.brIf, 2); // length bytes follow
  get(D);
  get(OFF);
  op(OP.sub);
  set(FROM);
  words(D, 0, FROM, 0, TOKEN_MATCH);
  get(D);
  get(LEN);
  op(OP.add);
  k(4);
  op(OP.add);
  set(D);
  op(OP.br, 3, OP.end); // next sequence

  // Careful path: literals.
  get(S);
  get(SRC_LEN);
  op(OP.geU);
  failIf();
  get(S);
  mem(OP.load8, 0);
  set(TOKEN);
  inc(S, 1);
  get(TOKEN);
  k(4);
  op(OP.shrU);
  set(LIT);

  get(LIT);
  op(OP.if, VOID);
  get(LIT);
  k(15);
  op(OP.eq, OP.if, VOID);
  lengthBytes(LIT);
  op(OP.end);
  // lit > srcLen - s: past the input
  get(LIT);
  get(SRC_LEN);
  get(S);
  op(OP.sub, OP.gtU);
  failIf();
  // lit > dEnd - d: past the output (a prefix is fine with partial)
  get(LIT);
  get(D_END);
  get(D);
  op(OP.sub, OP.gtU, OP.if, VOID);
  get(PARTIAL);
  op(OP.eqz);
  failIf();
  get(D);
  get(S);
  get(D_END);
  get(D);
  op(OP.sub);
  memoryCopy();
  k(0);
  op(OP.return, OP.end);
  get(LIT);
  k(LONG_COPY);
  op(OP.gtU, OP.if, VOID);
  get(D);
  get(S);
  get(LIT);
  memoryCopy();
  op(OP.else);
  // Reading up to STEP - 1 bytes past the literals stays inside the slack after the
  // input (or the output area after it); what lands past d + lit is overwritten later.
  get(D);
  tee(TO);
  get(LIT);
  op(OP.add);
  set(E);
  get(S);
  set(FROM);
  steps();
  op(OP.end);
  inc(S, () => get(LIT));
  inc(D, () => get(LIT));
  op(OP.end); // literals

  // End of input: the last sequence has literals only, and must fill the output exactly.
  get(S);
  get(SRC_LEN);
  op(OP.eq, OP.if, VOID);
  get(D);
  get(D_END);
  op(OP.ne, OP.return, OP.end);
  // Output full with partial: done.
  get(D);
  get(D_END);
  op(OP.eq);
  get(PARTIAL);
  op(OP.and);
  failIf(0);
  op(OP.end); // the shortcut joins here for an offset it did not check

  // Careful path: the match. Offset: two bytes, non-zero, not before the output start.
  get(S);
  k(2);
  op(OP.add);
  get(SRC_LEN);
  op(OP.gtU);
  failIf();
  get(S);
  mem(OP.load16, 0);
  set(OFF);
  inc(S, 2);
  get(OFF);
  op(OP.eqz);
  get(OFF);
  get(D);
  get(DST);
  op(OP.sub, OP.gtU, OP.or);
  failIf();
  op(OP.end); // the shortcut joins here for a match with length bytes, its offset checked
  // Length.
  get(TOKEN);
  k(15);
  op(OP.and);
  k(4);
  op(OP.add);
  set(LEN);
  get(LEN);
  k(19);
  op(OP.eq, OP.if, VOID);
  lengthBytes(LEN);
  op(OP.end);
  get(LEN);
  get(D_END);
  get(D);
  op(OP.sub, OP.gtU, OP.if, VOID);
  get(PARTIAL);
  op(OP.eqz);
  failIf();
  get(D_END);
  get(D);
  op(OP.sub);
  set(LEN);
  op(OP.end);
  // from = d - off; e = d + len; to = d
  get(D);
  get(OFF);
  op(OP.sub);
  set(FROM);
  get(D);
  tee(TO);
  get(LEN);
  op(OP.add);
  set(E);

  get(OFF);
  k(8);
  op(OP.geU, OP.if, VOID);
  get(OFF);
  get(LEN);
  op(OP.geU);
  get(LEN);
  k(LONG_COPY);
  op(OP.gtU, OP.and, OP.if, VOID); // long, and no overlap
  get(D);
  get(FROM);
  get(LEN);
  memoryCopy();
  op(OP.else);
  steps();
  op(OP.end);
  op(OP.else);
  // Offset < 8: the first 8 bytes one by one (each reads one already written), then
  // 8-byte steps from the nearest multiple of the period that is ≥ 8 back: the bytes
  // there are the same, and whole words of them are already written.
  for (let i = 0; i < 8; i++) {
    get(D);
    get(FROM);
    mem(OP.load8, 0, i);
    mem(OP.store8, 0, i);
  }
  get(D);
  k(8);
  op(OP.add);
  tee(TO);
  get(OFF);
  k(7);
  op(OP.add);
  get(OFF);
  op(OP.divU);
  get(OFF);
  op(OP.mul, OP.sub);
  set(FROM);
  get(TO);
  get(E);
  op(OP.ltU, OP.if, VOID);
  steps();
  op(OP.end);
  op(OP.end); // offset
  get(E);
  set(D);
  get(D);
  get(D_END);
  op(OP.eq);
  get(PARTIAL);
  op(OP.and);
  failIf(0);
  op(OP.br, 0, OP.end); // next sequence
  k(1);
  op(OP.end); // function
  return c;
}

type DecodeFn = (srcLen: number, dst: number, dstLen: number, partial: number) => number;

let wasm: WasmDecoder<DecodeFn> | null | undefined;

function instance(): WasmDecoder<DecodeFn> | null {
  if (wasm === undefined) wasm = instantiate<DecodeFn>(4, LOCALS, body);
  return wasm;
}

/** Whether the WebAssembly LZ4 decoder could be built here (else the JS one does all). */
export function lz4WasmAvailable(): boolean {
  return instance() !== null;
}

/**
 * The WebAssembly decoder alone: true when it decoded `src` into `out` (same contract as
 * decodeLz4), false when it found the input not valid (`out` untouched) or cannot run
 * here (no WebAssembly, or more than MAX_MEMORY to stage).
 */
export function decodeLz4Wasm(src: Uint8Array, out: Uint8Array, partial: boolean): boolean {
  const kept = instance();
  const dst = (src.length + SLACK + 7) & ~7;
  const need = dst + out.length + SLACK;
  if (!kept || need > MAX_MEMORY) return false;
  const w = stagingFor(kept, need);
  w.bytes.set(src, 0);
  if (w.decode(src.length, dst, out.length, partial ? 1 : 0) !== 0) return false;
  out.set(w.bytes.subarray(dst, dst + out.length));
  return true;
}

/** Same contract as decodeLz4 (lz4.ts), decoded in WebAssembly where available. */
export function decodeLz4Fast(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  if (!decodeLz4Wasm(src, out, partial)) decodeLz4(src, out, partial);
}
