import { corrupted } from "./errors.js";
import { joinWords } from "./words.js";

/**
 * The one bounds-checked little-endian reader every parser uses. It wraps a byte range
 * once (one DataView per block, not per field) and throws a corruption error, naming the
 * structure, for any read outside it.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Names the structure being read, for error messages. */
  readonly what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.what = what;
  }

  get length(): number {
    return this.bytes.length;
  }

  check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw corrupted(`${this.what}: read of ${length} bytes at ${offset} past end (${this.bytes.length})`);
    }
  }

  u8(offset: number): number {
    this.check(offset, 1);
    return this.bytes[offset]!;
  }

  u16(offset: number): number {
    this.check(offset, 2);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit field as bigint, for values that may really use all 64 bits (nids, times). */
  u64(offset: number): bigint {
    this.check(offset, 8);
    return this.view.getBigUint64(offset, true);
  }

  /** A signed 64-bit field (times before 1970). */
  i64(offset: number): bigint {
    this.check(offset, 8);
    return this.view.getBigInt64(offset, true);
  }

  /** A 64-bit field that must fit a safe integer (sizes, offsets); larger is corruption. */
  u64n(offset: number, field: string): number {
    const lo = this.u32(offset);
    const hi = this.u32(offset + 4);
    if (hi >= 0x200000) throw corrupted(`${this.what}: ${field} does not fit 53 bits`);
    return joinWords(lo, hi);
  }

  slice(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}
