/**
 * Finds a cached page's slot by (owner, page index), and lists an owner's slots, for the
 * whole cache at once: one open-addressing hash table of slot numbers and one chain
 * through each owner's slots, in typed arrays. A Map per owner did the same at ~250
 * bytes an owner (the map and its smallest table) plus ~30 a page: measured on app-a +
 * app-b read whole through two sharing mounts (30,861 pages of 6,789 owners), 1.7 MB of
 * heap, against 0.5 MB here.
 *
 * The keys are not stored: a table entry is a slot (plus one), and the slot table's owner
 * and index columns say whose page it holds.
 */

import type { SlotTable } from "./slot-table.js";

/** What the index keeps on each owner. */
export interface IndexedOwner {
  /** Mixed into the hash: owners are compared by identity, but hashed by this number. */
  readonly id: number;
  /** Pages of this owner in the index. */
  count: number;
  /** One of its slots, the start of its chain (-1: none). */
  first: number;
}

/** A free table entry: entries hold slot + 1, so a new table is empty without a fill. */
const EMPTY = 0;
/** At most this share of the table is used, so probes stay short. */
const MAX_LOAD = 0.5;
const MIN_CAPACITY = 64;

export class PageIndex<Owner extends IndexedOwner> {
  readonly #slots: SlotTable<Owner>;
  /** Slot numbers + 1 by hash, linear probing; EMPTY where none. Its length is a power of two. */
  #table = new Int32Array(MIN_CAPACITY);
  #used = 0;
  /** Each owner's slots as a doubly linked chain, by slot (-1: end). */
  #chainNext = new Int32Array(0);
  #chainPrev = new Int32Array(0);

  constructor(slots: SlotTable<Owner>) {
    this.#slots = slots;
  }

  /** The slot holding `owner`'s page `index`, or -1. */
  find(owner: Owner, index: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    const { owner: owners, index: indexes } = this.#slots;
    for (let at = home(owner.id, index, table); ; at = (at + 1) & mask) {
      const entry = table[at]!;
      if (entry === EMPTY) return -1;
      if (owners[entry - 1] === owner && indexes[entry - 1] === index) return entry - 1;
    }
  }

  /** Adds a slot the slot table has just given `owner`'s page (its owner and index set). */
  insert(slot: number): void {
    if ((this.#used + 1) > this.#table.length * MAX_LOAD) this.#rehash(this.#table.length * 2);
    this.#place(slot);
    this.#used++;
    if (slot >= this.#chainNext.length) this.#growChains(slot + 1);
    const owner = this.#slots.owner[slot]!;
    this.#chainPrev[slot] = -1;
    this.#chainNext[slot] = owner.first;
    if (owner.first >= 0) this.#chainPrev[owner.first] = slot;
    owner.first = slot;
    owner.count++;
  }

  /** Takes a slot out, before the slot table frees it (its owner and index still set). */
  remove(slot: number): void {
    const owner = this.#slots.owner[slot]!;
    const prev = this.#chainPrev[slot]!;
    const next = this.#chainNext[slot]!;
    if (prev >= 0) this.#chainNext[prev] = next;
    else owner.first = next;
    if (next >= 0) this.#chainPrev[next] = prev;
    owner.count--;

    const table = this.#table;
    const mask = table.length - 1;
    let hole = home(owner.id, this.#slots.index[slot]!, table);
    while (table[hole] !== slot + 1) {
      if (table[hole] === EMPTY) throw new Error(`page index: slot ${slot} is not in the table`);
      hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: entries after the hole that probed past it move into it, so
    // every entry stays reachable from its home without tombstones.
    for (let at = (hole + 1) & mask; table[at] !== EMPTY; at = (at + 1) & mask) {
      const moved = table[at]! - 1;
      const h = home(this.#slots.owner[moved]!.id, this.#slots.index[moved]!, table);
      // `moved` may fill the hole when its home is not in (hole, at], cyclically.
      const homeAfterHole = hole < at ? h > hole && h <= at : h > hole || h <= at;
      if (homeAfterHole) continue;
      table[hole] = moved + 1;
      hole = at;
    }
    table[hole] = EMPTY;
    this.#used--;
  }

  /** The owner's slots, as a list of their own: the caller may remove them while going through it. */
  slotsOf(owner: Owner): number[] {
    const out: number[] = [];
    for (let s = owner.first; s >= 0; s = this.#chainNext[s]!) out.push(s);
    return out;
  }

  /** Forgets every slot (the slot table is emptied whole); owners must be reset by the caller. */
  clear(): void {
    this.#table = new Int32Array(MIN_CAPACITY);
    this.#used = 0;
    this.#chainNext = new Int32Array(0);
    this.#chainPrev = new Int32Array(0);
  }

  /** Bytes of the index's own arrays (for the tests). */
  get bytes(): number {
    return this.#table.byteLength + this.#chainNext.byteLength + this.#chainPrev.byteLength;
  }

  #place(slot: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let at = home(this.#slots.owner[slot]!.id, this.#slots.index[slot]!, table);
    while (table[at] !== EMPTY) at = (at + 1) & mask;
    table[at] = slot + 1;
  }

  #rehash(capacity: number): void {
    const old = this.#table;
    this.#table = new Int32Array(capacity);
    for (const entry of old) if (entry !== EMPTY) this.#place(entry - 1);
  }

  #growChains(atLeast: number): void {
    let size = Math.max(MIN_CAPACITY, this.#chainNext.length * 2);
    while (size < atLeast) size *= 2;
    const next = new Int32Array(size);
    next.set(this.#chainNext);
    const prev = new Int32Array(size);
    prev.set(this.#chainPrev);
    this.#chainNext = next;
    this.#chainPrev = prev;
  }
}

/**
 * The home of an owner's page in a table (its length a power of two): the key's bits mixed
 * by one multiplication, and as many of its top bits taken as index the table (Fibonacci
 * hashing), which spreads an owner's consecutive pages well. An index above 2^31 (a huge
 * sparse file) has its high bits folded in, so pages differing only there still spread.
 */
function home(id: number, index: number, table: Int32Array): number {
  const low = index <= 0x7fff_ffff ? index : (index | 0) ^ Math.imul((index / 0x1_0000_0000) | 0, 0x85eb_ca6b);
  // 32 - log2(length) for a power of two.
  const shift = Math.clz32(table.length) + 1;
  return Math.imul(Math.imul(id, 0x27d4_eb2d) ^ low, 0x9e37_79b1) >>> shift;
}
