/**
 * The shared part of the hand-assembled WebAssembly decoders (lz4-wasm.ts,
 * microlzma-wasm.ts): the binary-format opcodes they use, LEB128 numbers, and a module of
 * one exported memory ("m") and one exported i32 function ("d"), instantiated where the
 * runtime has WebAssembly.
 */

/** Opcodes (WebAssembly core spec, binary format). */
export const WASM_OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  i64Load: 0x29,
  load8: 0x2d,
  load16: 0x2f,
  i64Store: 0x37,
  store8: 0x3a,
  store16: 0x3b,
  const: 0x41,
  eqz: 0x45,
  eq: 0x46,
  ne: 0x47,
  ltU: 0x49,
  gtU: 0x4b,
  leU: 0x4d,
  geS: 0x4e,
  geU: 0x4f,
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  divU: 0x6e,
  and: 0x71,
  or: 0x72,
  shl: 0x74,
  shrU: 0x76,
} as const;

/** Block type "no result", and the i32 value type. */
export const BLOCK_VOID = 0x40;
export const I32 = 0x7f;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

/** A module: memory "m" (one page to start), function "d" of `params` i32s → i32. */
function moduleBytes(params: number, locals: number, body: number[]): Uint8Array {
  const code = [...uleb(1), ...uleb(locals), I32, ...body]; // one group of i32 locals
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, params, ...Array<number>(params).fill(I32), 1, I32]), // type
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // one memory, at least 1 page
    ...section(7, [2, ...name("m"), 0x02, 0, ...name("d"), 0x00, 0]), // exports
    ...section(10, [1, ...uleb(code.length), ...code]), // code
  ]);
}

// The little of the WebAssembly JS API used here, typed locally: this package compiles
// without DOM or Node type libraries.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

/**
 * V8 compiles code that reads typed arrays on the assumption that no ArrayBuffer has been
 * detached yet (its ArrayBufferDetaching protector). Growing a WebAssembly memory detaches
 * the buffer it had, and the first time anything is detached, every function compiled on
 * that assumption is thrown away and compiled again. These decoders grow their memories,
 * so that happened in every process that decodes, at its first large enough pcluster: in
 * a fresh erofs-fuse daemon, the middle of its first walk, when 21 functions of the
 * request path were deoptimized at once (--trace-deopt; --trace-protector-invalidation
 * names the protector). Detaching one here, at load, before anything is optimized, lets
 * V8 compile each function once, as it keeps it. Measured: a fresh daemon's first cold
 * walk of app-a-lz4 took 6% less time (median of 10 interleaved pairs, each faster);
 * app-a-plain, which decodes nothing, within noise.
 */
function detachOneBuffer(): void {
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!api) return;
    const memory = new api.Memory({ initial: 0 });
    void memory.buffer;
    memory.grow(1);
  } catch {
    // No WebAssembly, or a runtime that refuses: nothing to settle.
  }
}
detachOneBuffer();

/** An instantiated decoder: its memory, a byte view of it, its function, and its module. */
export interface WasmDecoder<F> {
  memory: WasmMemory;
  bytes: Uint8Array;
  decode: F;
  /** Makes another instance of the same compiled module (see stagingFor). */
  readonly another: () => WasmDecoder<F>;
}

/** Builds and instantiates the module, or null without WebAssembly (or bulk memory). */
export function instantiate<F>(params: number, locals: number, body: () => number[]): WasmDecoder<F> | null {
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!api) return null;
    const module = new api.Module(moduleBytes(params, locals, body()));
    const make = (): WasmDecoder<F> => {
      const inst = new api.Instance(module, {});
      const memory = inst.exports.m as WasmMemory;
      return { memory, decode: inst.exports.d as F, bytes: new Uint8Array(memory.buffer), another: make };
    };
    return make();
  } catch {
    return null;
  }
}

/**
 * A kept decoder's memory may grow to this; a call staging more gets an instance of its
 * own, dropped after the call. WebAssembly memory never shrinks, so one large extent (a
 * packed inode's, say) would otherwise stay resident for the life of the process.
 */
export const RETAINED_MEMORY = 4 << 20;

/** The decoder to stage `need` bytes in (the caller checked its cap), with room for them. */
export function stagingFor<F>(w: WasmDecoder<F>, need: number): WasmDecoder<F> {
  const d = need <= RETAINED_MEMORY ? w : w.another();
  if (need > d.bytes.length) {
    d.memory.grow(Math.ceil((need - d.bytes.length) / 65536));
    d.bytes = new Uint8Array(d.memory.buffer);
  }
  return d;
}
