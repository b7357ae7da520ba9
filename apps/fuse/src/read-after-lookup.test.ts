import type { Inode } from "@erofs-ts/vfs";
import { describe, expect, it } from "vitest";
import { READ_AHEAD_MAX_BYTES, ReadAfterLookup } from "./read-after-lookup.js";

/** Only what ReadAfterLookup looks at. */
const file = (nid: number, size = 100): Inode => ({ nid: BigInt(nid), size }) as Inode;

/** A ReadAfterLookup whose reads answer the file's nid as one byte, recording what was read and given back. */
function setup() {
  const reads: bigint[] = [];
  const discarded: number[] = [];
  const ahead = new ReadAfterLookup(
    async (inode, size) => {
      reads.push(inode.nid);
      return new Uint8Array(size).fill(Number(inode.nid));
    },
    (data) => discarded.push(data[0]!),
  );
  /** A LOOKUP of `inode` answered; a READ from its start follows when `read`. */
  const open = async (inode: Inode, read: boolean): Promise<Uint8Array | null> => {
    ahead.lookedUp(inode);
    ahead.replied();
    return read ? ((await ahead.take(inode.nid)) ?? null) : null;
  };
  return { ahead, reads, discarded, open };
}

describe("ReadAfterLookup", () => {
  it("reads a looked-up file once the reply is written, and hands it to that file's READ only", async () => {
    const { ahead, reads } = setup();
    ahead.lookedUp(file(7, 300));
    expect(reads).toEqual([]);
    ahead.replied();
    expect(reads).toEqual([7n]);
    expect(ahead.take(8n)).toBeNull();
    const data = await ahead.take(7n);
    expect(data).toEqual(new Uint8Array(300).fill(7));
    // Taken once: a second READ from the start reads as usual.
    expect(ahead.take(7n)).toBeNull();
    expect(ahead.counts).toEqual({ started: 1, taken: 1 });
  });

  it("stops guessing after lookups without reads, and starts again once files are read", async () => {
    const { ahead, reads, open } = setup();
    for (let i = 1; i <= 5; i++) expect(await open(file(i), true)).not.toBeNull();
    // stat-like lookups: the first few are still read ahead, then no more.
    for (let i = 10; i < 30; i++) await open(file(i), false);
    const wasted = reads.filter((n) => n >= 10n).length;
    expect(wasted).toBeGreaterThan(0);
    expect(wasted).toBeLessThanOrEqual(3);
    expect(reads.filter((n) => n >= 20n)).toEqual([]);
    // Reading again: the history fills up and guesses resume.
    const before = ahead.counts.started;
    for (let i = 40; i < 60; i++) await open(file(i), true);
    expect(ahead.counts.started - before).toBeGreaterThanOrEqual(10);
    expect(reads).toContain(59n);
  });

  it("reads ahead neither empty files nor files larger than one READ", () => {
    const { ahead, reads } = setup();
    for (const size of [0, READ_AHEAD_MAX_BYTES + 1]) {
      ahead.lookedUp(file(3, size));
      ahead.replied();
    }
    ahead.lookedUp(file(4, READ_AHEAD_MAX_BYTES));
    ahead.replied();
    expect(reads).toEqual([4n]);
  });

  it("gives back the bytes of a guess no READ took when the next one starts", async () => {
    const { ahead, discarded } = setup();
    ahead.lookedUp(file(1));
    ahead.replied();
    ahead.lookedUp(file(2));
    ahead.replied();
    await new Promise((r) => setTimeout(r, 0));
    expect(discarded).toEqual([1]);
    expect(await ahead.take(2n)).not.toBeNull();
    expect(discarded).toEqual([1]);
  });

  it("starts one read per lookup however many replies follow", () => {
    const { ahead, reads } = setup();
    ahead.lookedUp(file(5));
    ahead.replied();
    ahead.replied();
    ahead.replied();
    expect(reads).toEqual([5n]);
  });
});
