import { describe, expect, it } from "vitest";
import { ReplyBuffers } from "./reply-buffers.js";

describe("READ reply buffers", () => {
  it("hands out power-of-two buffers from 4 KiB to 1 MiB and nothing larger", () => {
    const pool = new ReplyBuffers();
    expect(pool.acquire(1)!.length).toBe(4096);
    expect(pool.acquire(4097)!.length).toBe(8192);
    expect(pool.acquire(1 << 20)!.length).toBe(1 << 20);
    expect(pool.acquire((1 << 20) + 1)).toBeNull();
  });

  it("reuses a released buffer (a view of it counts) once, and ignores foreign ones", () => {
    const pool = new ReplyBuffers();
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

  it("keeps at most 2 MiB of free buffers", () => {
    const pool = new ReplyBuffers();
    const big = [1, 2, 3].map(() => pool.acquire(1 << 20)!);
    pool.release(big);
    expect(pool.retainedBytes).toBe(2 << 20);
  });
});
