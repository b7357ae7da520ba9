import { describe, expect, it } from "vitest";
import { seededRandom } from "@erofs-ts/testkit";
import { PageIndex, type IndexedOwner } from "./page-index.js";
import { SlotTable } from "./slot-table.js";

const BYTES = new Uint8Array(1);

function owners(n: number): IndexedOwner[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, count: 0, first: -1 }));
}

describe("PageIndex", () => {
  it("agrees with a Map per owner through inserts and removals, huge indexes and long probe runs included", () => {
    for (const seed of [1, 2, 3, 4]) {
      // Fractions in [0, 1) from a seeded sequence, so a failure repeats.
      const draw = seededRandom(seed);
      const next = () => draw() / 0x1_0000_0000;
      const slots = new SlotTable<IndexedOwner>();
      const index = new PageIndex(slots);
      const all = owners(7);
      // The model: page index -> slot, per owner.
      const model = new Map<IndexedOwner, Map<number, number>>(all.map((o) => [o, new Map()]));
      // Indexes from a small range (many per owner, dense runs) and from above 2^32
      // (differing only in their high bits).
      const pickIndex = () => (next() < 0.7 ? Math.floor(next() * 300) : Math.floor(next() * 8) * 0x1_0000_0000 + 5);
      for (let step = 0; step < 20_000; step++) {
        const o = all[Math.floor(next() * all.length)]!;
        const i = pickIndex();
        const m = model.get(o)!;
        const known = m.get(i);
        expect(index.find(o, i)).toBe(known ?? -1);
        if (known === undefined && next() < 0.55) {
          const slot = slots.add(o, i, BYTES, 0);
          index.insert(slot);
          m.set(i, slot);
        } else if (known !== undefined && next() < 0.8) {
          index.remove(known);
          slots.free(known);
          m.delete(i);
        }
      }
      for (const o of all) {
        const m = model.get(o)!;
        expect(o.count).toBe(m.size);
        expect(index.slotsOf(o).sort((a, b) => a - b)).toEqual([...m.values()].sort((a, b) => a - b));
        for (const [i, slot] of m) expect(index.find(o, i)).toBe(slot);
      }
    }
  });

  it("tells owners apart by identity, not by id", () => {
    const slots = new SlotTable<IndexedOwner>();
    const index = new PageIndex(slots);
    const [a, b] = [{ id: 5, count: 0, first: -1 }, { id: 5, count: 0, first: -1 }];
    index.insert(slots.add(a, 0, BYTES, 0));
    expect(index.find(a, 0)).toBeGreaterThanOrEqual(0);
    expect(index.find(b, 0)).toBe(-1);
  });

  it("lists an owner's slots whatever became of the others, and is empty after clear()", () => {
    const slots = new SlotTable<IndexedOwner>();
    const index = new PageIndex(slots);
    const [a, b] = owners(2);
    const aSlots = [0, 1, 2, 3].map((i) => {
      const s = slots.add(a!, i, BYTES, 0);
      index.insert(s);
      index.insert(slots.add(b!, i, BYTES, 0));
      return s;
    });
    // Out of the middle of its chain, then its first.
    index.remove(aSlots[2]!);
    slots.free(aSlots[2]!);
    index.remove(aSlots[3]!);
    slots.free(aSlots[3]!);
    expect(index.slotsOf(a!).sort()).toEqual([aSlots[0], aSlots[1]].sort());
    expect(index.slotsOf(b!)).toHaveLength(4);
    index.clear();
    expect(index.find(b!, 0)).toBe(-1);
  });

  it("costs 16 to 32 bytes a page (its arrays grow by doubling)", () => {
    const slots = new SlotTable<IndexedOwner>();
    const index = new PageIndex(slots);
    const all = owners(6789);
    for (let n = 0; n < 30_861; n++) index.insert(slots.add(all[n % all.length]!, Math.floor(n / all.length), BYTES, 0));
    expect(index.bytes / 30_861).toBeLessThanOrEqual(32);
    expect(index.bytes / 30_861).toBeGreaterThanOrEqual(16);
  });
});
