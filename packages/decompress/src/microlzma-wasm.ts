import { LZMA_LAYOUT as L, LZMA_MAX_DICT_SIZE, decodeMicroLzma } from "./microlzma.js";
import { BLOCK_VOID, I32, WASM_OP, stagingFor, instantiate, sleb, uleb, type WasmDecoder } from "./wasm-module.js";

/**
 * MicroLZMA decoding in WebAssembly, assembled here from the instruction list below (no
 * toolchain, no binary in the repository), like lz4-wasm.ts. The range coder's state is
 * in wasm locals as real uint32 values (unsigned compares are single instructions), and
 * the bit decoder is emitted inline at every use.
 *
 * It answers only "valid, decoded" or "not valid": on "not valid" (and for anything the
 * wasm side does not handle) the JS decoder runs on the same input and raises its precise
 * error. The wasm side is at least as strict as microlzma.ts: each check there is here.
 *
 * Memory: probabilities (u16) at 0, the stream at SRC (zero slack after it: the JS
 * decoder reads bytes past the end as 0), the output after that.
 */

const PROBS_BYTES = 32 << 10; // LITERAL + 0x300 << 4 entries at most, 2 bytes each
const SRC = PROBS_BYTES;
const SLACK = 64;
const MAX_MEMORY = 64 << 20;

const OP = WASM_OP;
const VOID = BLOCK_VOID;

// Parameters.
const SRC_END = 0; // SRC + stream length
const DST = 1;
const DST_LEN = 2;
const PARTIAL = 3;
const LC = 4;
const LP_MASK = 5;
const PB_MASK = 6;
const DICT = 7;
const CODE = 8; // initial code, then the live one
const PARAMS = 9;
// Locals.
let nextLocal = PARAMS;
const local = () => nextLocal++;
const RANGE = local();
const IN = local();
const D = local();
const D_END = local();
const STATE = local();
const REP0 = local();
const REP1 = local();
const REP2 = local();
const REP3 = local();
const P = local();
const BOUND = local();
const PADDR = local();
const POS_STATE = local();
const BASE = local();
const SYM = local();
const MATCH_BYTE = local();
const MATCH_BIT = local();
const BIT = local();
const LEN = local();
const LEN_BASE = local();
const TREE_BASE = local();
const TREE_TOP = local();
const M = local();
const SLOT = local();
const NBITS = local();
const DIST = local();
const REV_BASE = local();
const REV_BITS = local();
const K = local();
const REV = local();
const DIRECT = local();
const FROM = local();
const E = local();
const LOCALS = nextLocal - PARAMS;


/** A tiny emitter with named labels (br depths are computed from the open blocks). */
class Asm {
  readonly c: number[] = [];
  readonly #labels: Array<string | null> = [];
  get(l: number) {
    this.c.push(OP.get, l);
  }
  set(l: number) {
    this.c.push(OP.set, l);
  }
  k(n: number) {
    this.c.push(OP.const, ...sleb(n));
  }
  op(...ops: number[]) {
    this.c.push(...ops);
  }
  mem(opcode: number, offset = 0) {
    this.c.push(opcode, opcode === OP.load16 || opcode === OP.store16 ? 1 : 0, ...uleb(offset));
  }
  open(kind: number, label: string | null = null, result = VOID) {
    this.c.push(kind, result);
    this.#labels.push(label);
  }
  else() {
    this.c.push(OP.else);
  }
  close() {
    this.c.push(OP.end);
    this.#labels.pop();
  }
  br(label: string, conditional = false) {
    const depth = this.#labels.length - 1 - this.#labels.lastIndexOf(label);
    if (depth >= this.#labels.length) throw new Error(`no label ${label}`);
    this.c.push(conditional ? OP.brIf : OP.br, ...uleb(depth));
  }
  /** local = local + n */
  addTo(l: number, n: number) {
    this.get(l);
    this.k(n);
    this.op(OP.add);
    this.set(l);
  }
  /** if (condition on the stack) return code */
  retIf(code: number) {
    this.open(OP.if);
    this.k(code);
    this.op(OP.return);
    this.close();
  }
}

function body(): number[] {
  const a = new Asm();
  const { get, set, k, op } = {
    get: (l: number) => a.get(l),
    set: (l: number) => a.set(l),
    k: (n: number) => a.k(n),
    op: (...o: number[]) => a.op(...o),
  };
  const normalize = () => {
    get(RANGE);
    k(24);
    op(OP.shrU, OP.eqz);
    a.open(OP.if);
    get(RANGE);
    k(8);
    op(OP.shl);
    set(RANGE);
    get(CODE);
    k(8);
    op(OP.shl);
    get(IN);
    a.mem(OP.load8);
    op(OP.or);
    set(CODE);
    a.addTo(IN, 1);
    a.close();
  };
  /** Decodes one bit with the probability at index (emitted by `index`); leaves it on the stack. */
  const bit = (index: () => void) => {
    index();
    k(1);
    op(OP.shl);
    set(PADDR);
    normalize();
    get(PADDR);
    a.mem(OP.load16);
    set(P);
    get(RANGE);
    k(11);
    op(OP.shrU);
    get(P);
    op(OP.mul);
    set(BOUND);
    // Branch-free: which way a bit goes is close to a coin toss for the decoder's branch
    // predictor, so both outcomes are computed and `select` picks (a conditional move).
    get(CODE);
    get(BOUND);
    op(OP.geU);
    set(BIT);
    get(PADDR);
    get(P);
    get(P);
    k(5);
    op(OP.shrU, OP.sub);
    get(P);
    k(2048);
    get(P);
    op(OP.sub);
    k(5);
    op(OP.shrU, OP.add);
    get(BIT);
    op(OP.select);
    a.mem(OP.store16);
    get(RANGE);
    get(BOUND);
    op(OP.sub);
    get(BOUND);
    get(BIT);
    op(OP.select);
    set(RANGE);
    get(CODE);
    get(BOUND);
    k(0);
    get(BIT);
    op(OP.select);
    op(OP.sub);
    set(CODE);
    get(BIT);
  };
  const at = (base: number, ...terms: Array<() => void>) => () => {
    k(base);
    for (const t of terms) {
      t();
      op(OP.add);
    }
  };
  const loc = (l: number) => () => get(l);
  const shl = (l: number, n: number) => () => {
    get(l);
    k(n);
    op(OP.shl);
  };
  /** m = 1; while (m < top) m = (m << 1) | bit(base + m) */
  const tree = (base: () => void, top: () => void) => {
    k(1);
    set(M);
    a.open(OP.loop, "tree");
    get(M);
    k(1);
    op(OP.shl);
    bit(() => {
      base();
      get(M);
      op(OP.add);
    });
    op(OP.or);
    set(M);
    get(M);
    top();
    op(OP.ltU);
    a.br("tree", true);
    a.close();
  };
  const pos = () => {
    get(D);
    get(DST);
    op(OP.sub);
  };

  // range = 0xffffffff; in = SRC + 5; d = dst; dEnd = dst + dstLen
  k(-1);
  set(RANGE);
  k(SRC + 5);
  set(IN);
  get(DST);
  set(D);
  get(DST);
  get(DST_LEN);
  op(OP.add);
  set(D_END);

  a.open(OP.block, "exit");
  a.open(OP.loop, "main");
  get(D);
  get(D_END);
  op(OP.geU);
  a.br("exit", true);
  get(IN);
  get(SRC_END);
  op(OP.gtU);
  a.retIf(1);
  a.open(OP.block, "next");
  pos();
  get(PB_MASK);
  op(OP.and);
  set(POS_STATE);
  bit(at(L.IS_MATCH, shl(STATE, 4), loc(POS_STATE)));
  op(OP.eqz);
  a.open(OP.if); // literal
  // base = LITERAL + 0x300 * (((pos & lpMask) << lc) + (prev >> (8 - lc)))
  // SYM holds the previous byte (0 at the start) until the base is computed.
  pos();
  op(OP.eqz);
  a.open(OP.if, null, I32);
  k(0);
  a.else();
  get(D);
  k(1);
  op(OP.sub);
  a.mem(OP.load8);
  a.close();
  set(SYM);
  const litBase = () => {
    k(L.LITERAL);
    pos();
    get(LP_MASK);
    op(OP.and);
    get(LC);
    op(OP.shl);
    get(SYM);
    k(8);
    get(LC);
    op(OP.sub, OP.shrU, OP.add);
    k(0x300);
    op(OP.mul, OP.add);
  };
  litBase();
  set(BASE);
  k(1);
  set(SYM);
  get(STATE);
  k(7);
  op(OP.geU);
  a.open(OP.if); // matched literal
  get(REP0);
  pos();
  op(OP.geU);
  a.retIf(1);
  get(D);
  get(REP0);
  op(OP.sub);
  k(1);
  op(OP.sub);
  a.mem(OP.load8);
  set(MATCH_BYTE);
  a.open(OP.block, "mdone");
  a.open(OP.loop, "mloop");
  get(MATCH_BYTE);
  k(7);
  op(OP.shrU);
  k(1);
  op(OP.and);
  set(MATCH_BIT);
  get(MATCH_BYTE);
  k(1);
  op(OP.shl);
  set(MATCH_BYTE);
  bit(() => {
    get(BASE);
    get(MATCH_BIT);
    k(1);
    op(OP.add);
    k(8);
    op(OP.shl, OP.add);
    get(SYM);
    op(OP.add);
  });
  set(BIT);
  get(SYM);
  k(1);
  op(OP.shl);
  get(BIT);
  op(OP.or);
  set(SYM);
  get(MATCH_BIT);
  get(BIT);
  op(OP.ne);
  a.br("mdone", true);
  get(SYM);
  k(0x100);
  op(OP.ltU);
  a.br("mloop", true);
  a.close(); // mloop
  a.close(); // mdone
  a.close(); // matched literal
  // while (sym < 0x100) sym = (sym << 1) | bit(base + sym)
  a.open(OP.block, "ldone");
  a.open(OP.loop, "lloop");
  get(SYM);
  k(0x100);
  op(OP.geU);
  a.br("ldone", true);
  get(SYM);
  k(1);
  op(OP.shl);
  bit(at(0, loc(BASE), loc(SYM)));
  op(OP.or);
  set(SYM);
  a.br("lloop");
  a.close();
  a.close();
  get(D);
  get(SYM);
  a.mem(OP.store8);
  a.addTo(D, 1);
  // state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6
  get(STATE);
  k(4);
  op(OP.ltU);
  a.open(OP.if, null, I32);
  k(0);
  a.else();
  get(STATE);
  get(STATE);
  k(10);
  op(OP.ltU);
  a.open(OP.if, null, I32);
  k(3);
  a.else();
  k(6);
  a.close();
  op(OP.sub);
  a.close();
  set(STATE);
  a.br("next");
  a.close(); // literal

  // isRep
  bit(at(L.IS_REP, loc(STATE)));
  op(OP.eqz);
  a.open(OP.if); // new match
  get(REP2);
  set(REP3);
  get(REP1);
  set(REP2);
  get(REP0);
  set(REP1);
  k(L.MATCH_LEN);
  set(LEN_BASE);
  get(STATE);
  k(7);
  op(OP.ltU);
  a.open(OP.if, null, I32);
  k(7);
  a.else();
  k(10);
  a.close();
  set(STATE);
  a.else(); // repeat match
  pos();
  op(OP.eqz);
  a.retIf(1);
  bit(at(L.IS_REP_G0, loc(STATE)));
  op(OP.eqz);
  a.open(OP.if); // rep0
  bit(at(L.IS_REP0_LONG, shl(STATE, 4), loc(POS_STATE)));
  op(OP.eqz);
  a.open(OP.if); // short rep: one byte
  get(REP0);
  pos();
  op(OP.geU);
  a.retIf(1);
  get(STATE);
  k(7);
  op(OP.ltU);
  a.open(OP.if, null, I32);
  k(9);
  a.else();
  k(11);
  a.close();
  set(STATE);
  get(D);
  get(D);
  get(REP0);
  op(OP.sub);
  k(1);
  op(OP.sub);
  a.mem(OP.load8);
  a.mem(OP.store8);
  a.addTo(D, 1);
  a.br("next");
  a.close();
  a.else(); // rep1..3
  bit(at(L.IS_REP_G1, loc(STATE)));
  op(OP.eqz);
  a.open(OP.if);
  get(REP1);
  set(DIST);
  a.else();
  bit(at(L.IS_REP_G2, loc(STATE)));
  op(OP.eqz);
  a.open(OP.if);
  get(REP2);
  set(DIST);
  a.else();
  get(REP3);
  set(DIST);
  get(REP2);
  set(REP3);
  a.close();
  get(REP1);
  set(REP2);
  a.close();
  get(REP0);
  set(REP1);
  get(DIST);
  set(REP0);
  a.close(); // rep0 / rep1..3
  k(L.REP_LEN);
  set(LEN_BASE);
  get(STATE);
  k(7);
  op(OP.ltU);
  a.open(OP.if, null, I32);
  k(8);
  a.else();
  k(11);
  a.close();
  set(STATE);
  a.close(); // new / repeat

  // Length.
  bit(at(L.LEN_CHOICE, loc(LEN_BASE)));
  op(OP.eqz);
  a.open(OP.if);
  k(L.LEN_LOW);
  get(LEN_BASE);
  op(OP.add);
  get(POS_STATE);
  k(L.LEN_LOW_BITS);
  op(OP.shl, OP.add);
  set(TREE_BASE);
  k(1 << L.LEN_LOW_BITS);
  set(TREE_TOP);
  k(0);
  set(LEN);
  a.else();
  bit(at(L.LEN_CHOICE2, loc(LEN_BASE)));
  op(OP.eqz);
  a.open(OP.if);
  k(L.LEN_MID);
  get(LEN_BASE);
  op(OP.add);
  get(POS_STATE);
  k(L.LEN_LOW_BITS);
  op(OP.shl, OP.add);
  set(TREE_BASE);
  k(1 << L.LEN_LOW_BITS);
  set(TREE_TOP);
  k(8);
  set(LEN);
  a.else();
  k(L.LEN_HIGH);
  get(LEN_BASE);
  op(OP.add);
  set(TREE_BASE);
  k(1 << L.LEN_HIGH_BITS);
  set(TREE_TOP);
  k(16);
  set(LEN);
  a.close();
  a.close();
  tree(loc(TREE_BASE), loc(TREE_TOP));
  get(LEN);
  get(M);
  op(OP.add);
  get(TREE_TOP);
  op(OP.sub);
  set(LEN);

  // Distance of a new match.
  get(LEN_BASE);
  k(L.MATCH_LEN);
  op(OP.eq);
  a.open(OP.if);
  // slot base = POS_SLOT + (min(len, 3) << 6)
  tree(
    () => {
      k(L.POS_SLOT);
      get(LEN);
      k(3);
      get(LEN);
      k(3);
      op(OP.ltU);
      op(0x1b); // select
      k(6);
      op(OP.shl, OP.add);
    },
    () => k(64),
  );
  get(M);
  k(64);
  op(OP.sub);
  set(SLOT);
  get(SLOT);
  k(4);
  op(OP.ltU);
  a.open(OP.if);
  get(SLOT);
  set(REP0);
  a.else();
  get(SLOT);
  k(1);
  op(OP.shrU);
  k(1);
  op(OP.sub);
  set(NBITS);
  k(2);
  get(SLOT);
  k(1);
  op(OP.and, OP.or);
  get(NBITS);
  op(OP.shl);
  set(DIST);
  get(SLOT);
  k(L.END_POS_MODEL);
  op(OP.ltU);
  a.open(OP.if);
  k(L.SPEC_POS);
  get(DIST);
  op(OP.add);
  get(SLOT);
  op(OP.sub);
  k(1);
  op(OP.sub);
  set(REV_BASE);
  get(NBITS);
  set(REV_BITS);
  a.else();
  // direct bits: nbits - ALIGN_BITS of them
  k(0);
  set(DIRECT);
  get(NBITS);
  k(L.ALIGN_BITS);
  op(OP.sub);
  set(K);
  a.open(OP.block, "ddone");
  a.open(OP.loop, "dloop");
  get(K);
  op(OP.eqz);
  a.br("ddone", true);
  normalize();
  get(RANGE);
  k(1);
  op(OP.shrU);
  set(RANGE);
  get(DIRECT);
  k(1);
  op(OP.shl);
  set(DIRECT);
  get(CODE);
  get(RANGE);
  op(OP.geU);
  a.open(OP.if);
  get(CODE);
  get(RANGE);
  op(OP.sub);
  set(CODE);
  get(DIRECT);
  k(1);
  op(OP.or);
  set(DIRECT);
  a.close();
  a.addTo(K, -1);
  a.br("dloop");
  a.close();
  a.close();
  get(DIST);
  get(DIRECT);
  k(L.ALIGN_BITS);
  op(OP.shl, OP.add);
  set(DIST);
  k(L.ALIGN);
  set(REV_BASE);
  k(L.ALIGN_BITS);
  set(REV_BITS);
  a.close();
  // reverse tree: rev |= bit << k
  k(1);
  set(M);
  k(0);
  set(REV);
  k(0);
  set(K);
  a.open(OP.block, "rdone");
  a.open(OP.loop, "rloop");
  get(K);
  get(REV_BITS);
  op(OP.geU);
  a.br("rdone", true);
  bit(at(0, loc(REV_BASE), loc(M)));
  set(BIT);
  get(M);
  k(1);
  op(OP.shl);
  get(BIT);
  op(OP.or);
  set(M);
  get(REV);
  get(BIT);
  get(K);
  op(OP.shl, OP.or);
  set(REV);
  a.addTo(K, 1);
  a.br("rloop");
  a.close();
  a.close();
  get(DIST);
  get(REV);
  op(OP.add);
  set(REP0);
  // The end marker (0xffffffff) is never valid inside the output: the JS decoder decides.
  get(REP0);
  k(-1);
  op(OP.eq);
  a.retIf(1);
  a.close(); // slot >= 4
  a.close(); // new match distance

  // Copy len + 2 bytes from rep0 + 1 back.
  a.addTo(LEN, 2);
  get(REP0);
  pos();
  op(OP.geU);
  get(REP0);
  get(DICT);
  op(OP.geU);
  op(OP.or);
  a.retIf(1);
  get(LEN);
  get(D_END);
  get(D);
  op(OP.sub);
  op(OP.gtU);
  a.open(OP.if);
  get(PARTIAL);
  op(OP.eqz);
  a.retIf(1);
  get(D_END);
  get(D);
  op(OP.sub);
  set(LEN);
  a.close();
  get(D);
  get(REP0);
  op(OP.sub);
  k(1);
  op(OP.sub);
  set(FROM);
  get(D);
  get(LEN);
  op(OP.add);
  set(E);
  get(REP0);
  k(1);
  op(OP.add);
  get(LEN);
  op(OP.geU);
  a.open(OP.if); // no overlap
  get(D);
  get(FROM);
  get(LEN);
  op(0xfc, 0x0a, 0x00, 0x00); // memory.copy
  a.else();
  a.open(OP.loop, "copy");
  get(D);
  get(FROM);
  a.mem(OP.load8);
  a.mem(OP.store8);
  a.addTo(D, 1);
  a.addTo(FROM, 1);
  get(D);
  get(E);
  op(OP.ltU);
  a.br("copy", true);
  a.close();
  a.close();
  get(E);
  set(D);
  a.close(); // next
  a.br("main");
  a.close(); // main
  a.close(); // exit
  // Returns 1 if the input ran out, or (not partial) the stream does not end here: once
  // normalized, input left or the range coder not finished (code not 0); else 0.
  get(PARTIAL);
  op(OP.eqz);
  a.open(OP.if);
  normalize();
  a.close();
  get(IN);
  get(SRC_END);
  op(OP.gtU);
  get(PARTIAL);
  op(OP.eqz);
  get(IN);
  get(SRC_END);
  op(OP.ne);
  get(CODE);
  op(OP.eqz);
  op(OP.eqz);
  op(OP.or);
  op(OP.and);
  op(OP.or);
  op(OP.end);
  return a.c;
}

type DecodeFn = (srcEnd: number, dst: number, dstLen: number, partial: number, lc: number, lpMask: number, pbMask: number, dict: number, code: number) => number;

let wasm: WasmDecoder<DecodeFn> | null | undefined;

function instance(): WasmDecoder<DecodeFn> | null {
  if (wasm === undefined) wasm = instantiate<DecodeFn>(PARAMS, LOCALS, body);
  return wasm;
}

/** Whether the WebAssembly MicroLZMA decoder could be built here (else the JS one does all). */
export function microLzmaWasmAvailable(): boolean {
  return instance() !== null;
}

/** Same contract as decodeMicroLzma (microlzma.ts), decoded in WebAssembly where available. */
export function decodeMicroLzmaFast(src: Uint8Array, out: Uint8Array, dictSize: number, partial: boolean): void {
  const kept = instance();
  if (!kept || src.length < 5) return decodeMicroLzma(src, out, dictSize, partial);
  const props = ~src[0]! & 0xff;
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  const pb = Math.floor(props / 45);
  const code = (src[1]! << 24) | (src[2]! << 16) | (src[3]! << 8) | src[4]!;
  if (props >= 9 * 5 * 5 || lc + lp > 4 || code === -1) return decodeMicroLzma(src, out, dictSize, partial);
  const dst = (SRC + src.length + SLACK + 7) & ~7;
  const need = dst + out.length;
  if (need > MAX_MEMORY) return decodeMicroLzma(src, out, dictSize, partial);
  const w = stagingFor(kept, need);
  const probs = L.LITERAL + (0x300 << (lc + lp));
  new Uint16Array(w.memory.buffer, 0, probs).fill(L.PROB_INIT);
  w.bytes.set(src, SRC);
  w.bytes.fill(0, SRC + src.length, dst);
  const dict = dictSize > 0 ? Math.min(dictSize, LZMA_MAX_DICT_SIZE) : LZMA_MAX_DICT_SIZE;
  const r = w.decode(SRC + src.length, dst, out.length, partial ? 1 : 0, lc, (1 << lp) - 1, (1 << pb) - 1, dict, code);
  if (r !== 0) return decodeMicroLzma(src, out, dictSize, partial);
  out.set(w.bytes.subarray(dst, dst + out.length));
}
