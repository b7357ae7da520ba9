import { describe, expect, it } from "vitest";
import { READ_AHEAD_MAX_BYTES, ReadAhead } from "./read-ahead.js";

/**
 * A ReadAhead whose reads answer a file's nid as one byte, over a listing where file n is
 * followed by n + 1 (up to `listed`), recording what was read and what was given back.
 */
function setup(listed = 100) {
  const reads: bigint[] = [];
  const discarded: number[] = [];
  const ahead = new ReadAhead(
    async (nid) => {
      reads.push(nid);
      return new Uint8Array(10).fill(Number(nid));
    },
    (data) => discarded.push(data[0]!),
    (nid) => (nid < BigInt(listed) ? nid + 1n : null),
  );
  /** A LOOKUP of file `nid` answered, then (when `read`) a READ from its start answered. */
  const open = async (nid: number, read: boolean): Promise<Uint8Array | null> => {
    ahead.lookedUp(BigInt(nid), 100);
    ahead.replied();
    if (!read) return null;
    const data = (await ahead.take(BigInt(nid))) ?? null;
    ahead.replied();
    return data;
  };
  /** A READ from the start of file `nid` answered, without a LOOKUP (the listing gave the inode). */
  const read = async (nid: number): Promise<Uint8Array | null> => {
    const data = (await ahead.take(BigInt(nid))) ?? null;
    ahead.replied();
    return data;
  };
  return { ahead, reads, discarded, open, read };
}

describe("ReadAhead after a LOOKUP", () => {
  it("reads a looked-up file once the reply is written, and hands it to that file's READ only", async () => {
    const { ahead, reads } = setup(0);
    ahead.lookedUp(7n, 300);
    expect(reads).toEqual([]);
    ahead.replied();
    expect(reads).toEqual([7n]);
    expect(ahead.take(8n)).toBeNull();
    expect(await ahead.take(7n)).toEqual(new Uint8Array(10).fill(7));
    // Taken once: a second READ from the start reads as usual.
    expect(ahead.take(7n)).toBeNull();
  });

  it("stops after lookups without reads, and starts again once files looked up are read", async () => {
    const { reads, open } = setup(0);
    for (let i = 1; i <= 5; i++) expect(await open(i, true)).not.toBeNull();
    // stat-like lookups: the first few are still read ahead, then no more.
    for (let i = 10; i < 30; i++) await open(i, false);
    const wasted = reads.filter((n) => n >= 10n).length;
    expect(wasted).toBeGreaterThan(0);
    expect(wasted).toBeLessThanOrEqual(3);
    expect(reads.filter((n) => n >= 20n)).toEqual([]);
    for (let i = 40; i < 60; i++) await open(i, true);
    expect(reads.filter((n) => n >= 40n).length).toBeGreaterThanOrEqual(10);
    expect(reads).toContain(59n);
  });

  it("reads ahead neither empty files nor files larger than one READ", () => {
    const { ahead, reads } = setup(0);
    for (const size of [0, READ_AHEAD_MAX_BYTES + 1]) {
      ahead.lookedUp(3n, size);
      ahead.replied();
    }
    ahead.lookedUp(4n, READ_AHEAD_MAX_BYTES);
    ahead.replied();
    expect(reads).toEqual([4n]);
  });

  it("forgets its guess when told to (the daemon going idle): the READ then reads as usual", async () => {
    const { ahead, discarded } = setup(0);
    ahead.lookedUp(6n, 100);
    ahead.replied();
    ahead.forget();
    expect(ahead.take(6n)).toBeNull();
    // Nothing armed is left to start either.
    ahead.lookedUp(7n, 100);
    ahead.forget();
    ahead.replied();
    expect(ahead.take(7n)).toBeNull();
    await new Promise((r) => setTimeout(r, 0));
    expect(discarded).toEqual([]);
  });

  it("starts one read per lookup however many replies follow", () => {
    const { ahead, reads } = setup(0);
    ahead.lookedUp(5n, 100);
    ahead.replied();
    ahead.replied();
    ahead.replied();
    expect(reads).toEqual([5n]);
  });
});

describe("ReadAhead after a READ", () => {
  it("reads the file listed next once a READ is answered, so files read in listing order are all ready", async () => {
    const { reads, read } = setup();
    expect(await read(1)).toBeNull();
    for (let i = 2; i <= 20; i++) expect(await read(i), `file ${i}`).toEqual(new Uint8Array(10).fill(i));
    expect(reads).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 2)));
  });

  it("a file read ahead after a READ is not read again at its LOOKUP", async () => {
    const { reads, open } = setup();
    for (let i = 1; i <= 10; i++) expect(await open(i, true)).not.toBeNull();
    // Each file once: the first at its lookup, the rest as the file after the one read.
    expect(reads).toEqual(Array.from({ length: 11 }, (_, i) => BigInt(i + 1)));
  });

  it("stops for a reader that jumps around, and gives back the bytes no READ took", async () => {
    const { reads, discarded, read } = setup(1000);
    for (const n of [1, 500, 40, 700, 90, 300, 5, 800, 150, 600, 20, 900]) await read(n);
    await new Promise((r) => setTimeout(r, 0));
    // The first few guesses (the file after each) missed; then none. Each missed guess is
    // given back when the next starts, the last one kept until then.
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThanOrEqual(4);
    expect(discarded).toEqual(reads.slice(0, -1).map((n) => Number(n) & 0xff));
  });
});
