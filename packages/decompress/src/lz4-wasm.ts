import { decodeLz4 } from "./lz4.js";
import { BLOCK_VOID, WASM_OP, stagingFor, instantiate, sleb, uleb, type WasmDecoder } from "./wasm-module.js";

/**
 * LZ4 block decoding in WebAssembly, assembled here from the instruction list below (no
 * toolchain, no binary in the repository). Wasm has what the JS decoder lacks: unaligned
 * 64-bit loads and stores and `memory.copy`. And because the decoder writes into its own
 * memory, it may copy in whole words past the end of a literal run or match (into slack
 * that the next sequence overwrites) instead of finishing byte by byte.
 *
 * The module only answers "valid, decoded" or "not valid": on "not valid" the JS decoder
 * runs on the same input and raises its precise error (or, should the two ever disagree,
 * its own output stands). The wasm side checks the same conditions as lz4.ts.
 *
 * Memory layout per call: input at 0, output at `dst` (input length + slack, 8-aligned),
 * SLACK bytes after each for the word copies.
 */

const SLACK = 32;
/** Largest input + output one call may stage: two pclusters' worth (see MAX_DECODED elsewhere). */
const MAX_MEMORY = 64 << 20;

const OP = WASM_OP;

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
const LOCALS = 10; // S..E

/** The decode function's body: (srcLen, dst, dstLen, partial) → 0 decoded, 1 not valid. */
function body(): number[] {
  const c: number[] = [];
  const get = (l: number) => c.push(OP.get, l);
  const set = (l: number) => c.push(OP.set, l);
  const k = (n: number) => c.push(OP.const, ...sleb(n));
  const op = (...ops: number[]) => c.push(...ops);
  const mem = (opcode: number, align: number, offset = 0) => c.push(opcode, align, ...uleb(offset));
  const memoryCopy = () => c.push(0xfc, 0x0a, 0x00, 0x00);
  /** if (condition on the stack) return `code`. */
  const failIf = (code = 1) => {
    op(OP.if, BLOCK_VOID);
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
  /** One 8-byte word from `from` (+offset) to `to` (+offset). */
  const word = (to: number, from: number, offset: number) => {
    get(to);
    get(from);
    mem(OP.i64Load, 0, offset);
    mem(OP.i64Store, 0, offset);
  };
  /** Reads 255-continued length bytes into `l` (input checked per byte). */
  const lengthBytes = (l: number) => {
    op(OP.loop, BLOCK_VOID);
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

  // d = dst; dEnd = dst + dstLen; s = 0
  get(DST);
  set(D);
  get(DST);
  get(DST_LEN);
  op(OP.add);
  set(D_END);
  k(0);
  set(S);

  op(OP.loop, BLOCK_VOID); // one sequence per iteration
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
  op(OP.if, BLOCK_VOID); // literals
  get(LIT);
  k(15);
  op(OP.eq, OP.if, BLOCK_VOID);
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
  op(OP.sub, OP.gtU, OP.if, BLOCK_VOID);
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
  k(16);
  op(OP.leU, OP.if, BLOCK_VOID);
  word(D, S, 0);
  word(D, S, 8);
  op(OP.else);
  get(D);
  get(S);
  get(LIT);
  memoryCopy();
  op(OP.end);
  inc(S, () => get(LIT));
  inc(D, () => get(LIT));
  op(OP.end); // literals

  // End of input: the last sequence has literals only, and must fill the output exactly.
  get(S);
  get(SRC_LEN);
  op(OP.eq, OP.if, BLOCK_VOID);
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
  // Offset: two bytes, non-zero, not before the start of the output.
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
  // Length.
  get(TOKEN);
  k(15);
  op(OP.and);
  k(4);
  op(OP.add);
  set(LEN);
  get(LEN);
  k(19);
  op(OP.eq, OP.if, BLOCK_VOID);
  lengthBytes(LEN);
  op(OP.end);
  get(LEN);
  get(D_END);
  get(D);
  op(OP.sub, OP.gtU, OP.if, BLOCK_VOID);
  get(PARTIAL);
  op(OP.eqz);
  failIf();
  get(D_END);
  get(D);
  op(OP.sub);
  set(LEN);
  op(OP.end);
  // from = d - off; e = d + len
  get(D);
  get(OFF);
  op(OP.sub);
  set(FROM);
  get(D);
  get(LEN);
  op(OP.add);
  set(E);

  get(OFF);
  k(8);
  op(OP.geU, OP.if, BLOCK_VOID); // offset ≥ 8: word steps only read bytes already written
  get(LEN);
  k(16);
  op(OP.leU, OP.if, BLOCK_VOID);
  word(D, FROM, 0);
  word(D, FROM, 8);
  op(OP.else);
  get(OFF);
  get(LEN);
  op(OP.geU, OP.if, BLOCK_VOID); // no overlap
  get(D);
  get(FROM);
  get(LEN);
  memoryCopy();
  op(OP.else);
  op(OP.loop, BLOCK_VOID);
  word(D, FROM, 0);
  inc(D, 8);
  inc(FROM, 8);
  get(D);
  get(E);
  op(OP.ltU, OP.brIf, 0, OP.end);
  op(OP.end); // overlap
  op(OP.end); // len ≤ 16
  op(OP.else); // offset < 8: byte by byte (repeats a short period)
  op(OP.loop, BLOCK_VOID);
  get(D);
  get(FROM);
  mem(OP.load8, 0);
  mem(OP.store8, 0);
  inc(D, 1);
  inc(FROM, 1);
  get(D);
  get(E);
  op(OP.ltU, OP.brIf, 0, OP.end);
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

/** Same contract as decodeLz4 (lz4.ts), decoded in WebAssembly where available. */
export function decodeLz4Fast(src: Uint8Array, out: Uint8Array, partial: boolean): void {
  const kept = instance();
  const dst = (src.length + SLACK + 7) & ~7;
  const need = dst + out.length + SLACK;
  if (!kept || need > MAX_MEMORY) return decodeLz4(src, out, partial);
  const w = stagingFor(kept, need);
  w.bytes.set(src, 0);
  if (w.decode(src.length, dst, out.length, partial ? 1 : 0) !== 0) return decodeLz4(src, out, partial);
  out.set(w.bytes.subarray(dst, dst + out.length));
}
