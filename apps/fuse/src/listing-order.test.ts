import { describe, expect, it } from "vitest";
import { ListingOrder, type ListedEntry } from "./listing-order.js";

const FILE = 1;
const DIR = 2;
/** Entries at positions from `start`, each a [nid, type] pair. */
const page = (start: number, items: Array<[number, number]>): ListedEntry[] => items.map(([nid, fileType], i) => ({ nid: BigInt(nid), fileType, next: start + i + 1 }));

describe("ListingOrder", () => {
  it("answers the regular file listed right after a file, across pages", () => {
    const order = new ListingOrder();
    order.listed(9n, 0, page(0, [[9, DIR], [8, DIR], [10, FILE], [11, FILE]]));
    order.listed(9n, 4, page(4, [[12, FILE], [13, DIR], [14, FILE]]));
    expect(order.nextAfter(10n)).toBe(11n);
    expect(order.nextAfter(11n)).toBe(12n);
    // Followed by a directory, or last: nothing to guess.
    expect(order.nextAfter(12n)).toBeNull();
    expect(order.nextAfter(14n)).toBeNull();
    expect(order.nextAfter(99n)).toBeNull();
  });

  it("ignores a page that does not continue the listing, and starts afresh at position 0", () => {
    const order = new ListingOrder();
    order.listed(1n, 0, page(0, [[10, FILE], [11, FILE]]));
    order.listed(1n, 5, page(5, [[20, FILE], [21, FILE]]));
    expect(order.nextAfter(11n)).toBeNull();
    expect(order.nextAfter(20n)).toBeNull();
    order.listed(1n, 0, page(0, [[11, FILE], [10, FILE]]));
    expect(order.nextAfter(11n)).toBe(10n);
    expect(order.nextAfter(10n)).toBeNull();
  });

  it("keeps a hard-linked file's first place", () => {
    const order = new ListingOrder();
    order.listed(1n, 0, page(0, [[10, FILE], [11, FILE], [12, FILE]]));
    order.listed(2n, 0, page(0, [[11, FILE], [30, FILE]]));
    expect(order.nextAfter(10n)).toBe(11n);
    expect(order.nextAfter(11n)).toBe(12n);
  });

  it("forgets the oldest listings past its budget of files", () => {
    const order = new ListingOrder();
    for (let d = 0; d < 40; d++) {
      const base = 1_000_000 + d * 1000;
      order.listed(BigInt(d), 0, page(0, Array.from({ length: 900 }, (_, i): [number, number] => [base + i, FILE])));
    }
    expect(order.size).toBeLessThanOrEqual(16384);
    expect(order.nextAfter(1_000_000n)).toBeNull();
    expect(order.nextAfter(BigInt(1_000_000 + 39 * 1000))).toBe(BigInt(1_000_001 + 39 * 1000));
  });
});
