/**
 * The operation a worker is in, published through shared memory so the main thread can
 * name it when it has to kill a worker stuck in a synchronous loop (which no timer inside
 * the worker could interrupt). Writing three numbers per operation costs nothing next to
 * a message per operation.
 */
export const OP_NAMES = [
  "idle",
  "mount",
  "statfs",
  "root",
  "readdir",
  "iget",
  "lookupChild",
  "stat",
  "listxattr",
  "getxattr",
  "fingerprint",
  "readlink",
  "lookup(follow)",
  "read",
  "seek",
  "extents",
  "unmount",
  "build mutant",
  "inject",
] as const;
export type OpName = (typeof OP_NAMES)[number];

/** Layout of the shared buffer: Int32 [state, op, nid lo, nid hi], Float64 [start ms, arg]. */
export const OP_SLOT_BYTES = 32;

export class OpSlot {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.#i32 = new Int32Array(buffer, 0, 4);
    this.#f64 = new Float64Array(buffer, 16, 2);
  }

  begin(op: OpName, nid: bigint, arg: number): void {
    this.#i32[1] = OP_NAMES.indexOf(op);
    this.#i32[2] = Number(nid & 0xffff_ffffn) | 0;
    this.#i32[3] = Number((nid >> 32n) & 0xffff_ffffn) | 0;
    this.#f64[0] = Date.now();
    this.#f64[1] = arg;
    Atomics.store(this.#i32, 0, 1);
  }

  end(): void {
    Atomics.store(this.#i32, 0, 0);
  }

  /** The current operation and how long it has run, or null when between operations. */
  current(now: number): { op: OpName; nid: bigint; arg: number; ms: number } | null {
    if (Atomics.load(this.#i32, 0) !== 1) return null;
    const nid = (BigInt(this.#i32[3]! >>> 0) << 32n) | BigInt(this.#i32[2]! >>> 0);
    return { op: OP_NAMES[this.#i32[1]!] ?? "idle", nid, arg: this.#f64[1]!, ms: now - this.#f64[0]! };
  }
}

export function describeOp(op: OpName, nid: bigint, arg: number): string {
  const at = op === "read" || op === "seek" ? ` @${arg}` : "";
  return nid >= 0n && op !== "mount" && op !== "statfs" && op !== "unmount" && op !== "build mutant" ? `${op} nid ${nid}${at}` : op;
}
