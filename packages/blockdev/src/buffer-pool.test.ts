import { describe, expect, it } from "vitest";
import { ErofsError } from "@erofs-ts/format";
import { BufferPool } from "./buffer-pool.js";

describe("BufferPool", () => {
  it("hands out power-of-two buffers from 4 KiB to the largest size and nothing larger", () => {
    const pool = new BufferPool();
    expect(pool.acquire(1)!.length).toBe(4096);
    expect(pool.acquire(4097)!.length).toBe(8192);
    expect(pool.acquire(1 << 20)!.length).toBe(1 << 20);
    expect(pool.acquire((1 << 20) + 1)).toBeNull();
    expect(new BufferPool({ maxShift: 22 }).acquire(3 << 20)!.length).toBe(4 << 20);
  });

  it("reuses a released buffer (a view of it counts) once, and ignores foreign ones", () => {
    const pool = new BufferPool();
    const a = pool.acquire(10_000)!;
    pool.release([a.subarray(0, 100), a.subarray(50, 60), new Uint8Array(16384)]);
    expect(pool.retainedBytes).toBe(16384);
    const b = pool.acquire(12_000)!;
    expect(b.buffer).toBe(a.buffer);
    expect(pool.retainedBytes).toBe(0);
    expect(pool.acquire(12_000)!.buffer).not.toBe(a.buffer);
    // Handed out again, it may come back again.
    pool.release([b]);
    expect(pool.retainedBytes).toBe(16384);
  });

  it("keeps at most its budget of free buffers, and none after clear()", () => {
    const pool = new BufferPool({ retainedBytes: 2 << 20 });
    const big = [1, 2, 3].map(() => pool.acquire(1 << 20)!);
    pool.release(big);
    expect(pool.retainedBytes).toBe(2 << 20);
    pool.clear();
    expect(pool.retainedBytes).toBe(0);
    expect(pool.acquire(1 << 20)!.buffer).not.toBe(big[0]!.buffer);
    // Cleared buffers are still this pool's: handed back, they are kept again.
    pool.release([big[0]!]);
    expect(pool.retainedBytes).toBe(1 << 20);
  });

  it("rejects sizes it cannot hold", () => {
    expect(() => new BufferPool({ maxShift: 40 })).toThrow(ErofsError);
    expect(() => new BufferPool({ retainedBytes: -1 })).toThrow(ErofsError);
  });
});
