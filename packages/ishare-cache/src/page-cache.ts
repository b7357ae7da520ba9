/**
 * A page cache with a byte budget and least-recently-used eviction. Pages belong to an
 * owner (a private inode of one image, or, with sharing, a shared inode); the vfs fills
 * missing pages and the cache only stores, finds and evicts them.
 */

import { PageIndex, type IndexedOwner } from "./page-index.js";
import { MAX_SLAB_BYTES, SlabStore } from "./slab-store.js";
import { SlotTable } from "./slot-table.js";

export const PAGE_SIZE = 4096;

/**
 * What each cached page costs besides its bytes (its slot-table row, 48 bytes, and its
 * entries in the page index, 16 to 32; both grow by doubling, so somewhat more at
 * times): charged against the budget, so that the budget bounds the cache's memory even
 * when pages are tiny (an image of a million one-byte files would otherwise grow the
 * index without limit while using little of the budget).
 */
export const PAGE_BOOKKEEPING_BYTES = 64;

export interface CacheStats {
  readonly pages: number;
  /** Owners holding at least one page (an owner whose last page leaves is forgotten). */
  readonly owners: number;
  /** Bytes of the slabs the pages are copied into, free room included (0 without slabs; emptied slabs kept for reuse not counted, see slab-recycler.ts). */
  readonly slabBytes: number;
  /** Bytes returned by get() from pages that another mount filled (sharing at work). */
  readonly sharedBytesServed: number;
  readonly bytes: number;
  readonly budgetBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly fills: number;
  readonly evictions: number;
}

/** Identifies whose pages these are. Create through PageCache.owner(). */
export interface CacheOwner {
  readonly key: string;
}

/** An owner as the cache keeps it: its pages are found through the cache's PageIndex. */
interface OwnerState extends CacheOwner, IndexedOwner {}

/** The key of every unkeyed owner (PageCache.unkeyedOwner): no keyed owner has it. */
const UNKEYED = "";

export interface PageCacheOptions {
  /**
   * Most bytes held at once: PAGE_BOOKKEEPING_BYTES per page, plus the slabs holding the
   * pages (free room included), or without slabs the pages' own bytes.
   */
  readonly budgetBytes: number;
  /**
   * Copy each page put into a slab (see SlabStore) rather than keep the caller's buffer:
   * far fewer buffers for a cache of many small files, and fills into a reused buffer.
   * But a page returned by get() or take() stays valid only until the cache next changes
   * (a put, take or drop may reuse its room): copy it out at once. Default true; a
   * cache whose pages are held across awaits (metadata blocks) turns it off.
   */
  readonly slabs?: boolean;
}

/**
 * Pages are rows of a SlotTable (typed arrays plus the ArrayBuffer each page lies in),
 * not one object per page: a cache of 100 MB holds ~25,000 pages, and an object, a
 * typed-array view and list links for each cost ~280 bytes of JavaScript heap apiece
 * that the collector walked at every full collection. A page's view is made when get()
 * hands it out, and a PageIndex finds its slot. The bytes themselves are in slabs
 * (SlabStore) unless options.slabs is false: measured on app-a + app-b read whole
 * through two sharing mounts (~30,000 pages of ~4,200 files), an idle erofs-fuse held
 * ~1 MB less of JavaScript heap than with a buffer per fill.
 */
export class PageCache {
  readonly budgetBytes: number;
  readonly pageSize = PAGE_SIZE;
  readonly #owners = new Map<string, OwnerState>();
  readonly #slots = new SlotTable<OwnerState>();
  readonly #index = new PageIndex(this.#slots);
  /** Owner ids, for the index's hash (owners are compared by identity). */
  #ownerIds = 0;
  /** Unkeyed owners holding pages (not in #owners). */
  #unkeyedHolding = 0;
  /** Where pages live when they are copied in (options.slabs); null: each keeps its own buffer. */
  readonly #slabs: SlabStore | null;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #fills = 0;
  #evictions = 0;
  #sharedBytesServed = 0;
  /** Fill buffers whose pages were put as views: pages put, and pages still cached. */
  #viewedFills = new WeakMap<ArrayBufferLike, { put: number; live: number }>();

  constructor(options: PageCacheOptions) {
    if (!Number.isSafeInteger(options.budgetBytes) || options.budgetBytes < 0) {
      throw new RangeError(`cache budget must be a non-negative integer, got ${options.budgetBytes}`);
    }
    this.budgetBytes = options.budgetBytes;
    // Slabs small enough that a small budget still holds several of them.
    const slabSize = Math.max(PAGE_SIZE, Math.min(MAX_SLAB_BYTES, Math.floor(options.budgetBytes / 16 / PAGE_SIZE) * PAGE_SIZE));
    this.#slabs = options.slabs === false ? null : new SlabStore(PAGE_SIZE, slabSize);
  }

  /** Whether put() copies pages (into slabs), so a caller need not hand it a buffer of their own. */
  get copiesPages(): boolean {
    return this.#slabs !== null;
  }

  /** Whether an owner with this key holds pages. */
  hasOwner(key: string): boolean {
    return this.#owners.has(key);
  }

  /**
   * The owner for `key`. Only owners holding pages are kept: one without pages is a new
   * object each time, kept from its first put() on, and forgotten again when its last page
   * leaves. A reader that keeps what it reads (take, or a file read once through FUSE)
   * would otherwise leave an empty owner behind for every file it ever read.
   */
  owner(key: string): CacheOwner {
    if (key === UNKEYED) throw new RangeError("an owner key must not be empty (see unkeyedOwner)");
    return this.#owners.get(key) ?? { key, id: ++this.#ownerIds, count: 0, first: -1 };
  }

  /**
   * An owner the caller keeps itself, with `fields` of its own on the same object: the
   * cache keeps no key string or map entry for it, and dropKeyed() never reaches it. A
   * ShareRegistry holds one per distinct content; measured on app-a + app-b read through
   * two sharing erofs-fuse mounts (5,621 shared contents), the idle daemon's RSS was ~0.6
   * MB smaller than with a keyed owner beside each registry record.
   */
  unkeyedOwner<T extends object>(fields: T & { key?: never; id?: never; count?: never; first?: never }): CacheOwner & T {
    // The cache's fields last: no field of the caller's can stand in for them.
    return { ...fields, key: UNKEYED, id: ++this.#ownerIds, count: 0, first: -1 };
  }

  /**
   * The kept owner a put() for `owner` goes to: `owner` itself, kept from now on, unless
   * another object with its key is kept already (made while `owner` was forgotten).
   */
  #keep(owner: OwnerState): OwnerState {
    if (owner.key === UNKEYED) {
      if (owner.count === 0) this.#unkeyedHolding++;
      return owner;
    }
    const kept = this.#owners.get(owner.key);
    if (kept) return kept;
    this.#owners.set(owner.key, owner);
    return owner;
  }

  /**
   * The cached page, marked most recently used, or undefined (counted as a miss).
   * `reader` is the reading mount's id: a page filled by another mount counts as shared.
   */
  get(owner: CacheOwner, index: number, reader = 0): Uint8Array | undefined {
    const slot = this.#lookup(owner, index, reader);
    if (slot < 0) return undefined;
    const t = this.#slots;
    // A page put as a view into its fill's buffer gets its own copy once it is used again
    // and some other page of that buffer has left the cache: then the view would pin
    // bytes nobody holds. While every page of the fill is cached, the view costs nothing.
    const fill = this.#slabs ? undefined : this.#viewedFills.get(t.buffer[slot]!);
    if (fill && fill.live < fill.put) {
      this.#leaveFill(slot);
      t.setData(slot, t.view(slot).slice());
    }
    t.touch(slot);
    return t.view(slot);
  }

  /**
   * Like get(), but the page leaves the cache: for a reader that keeps the bytes itself
   * from now on (the kernel's page cache behind FUSE), so they are not held twice. The
   * bytes may be a view into a larger buffer: copy them, do not keep them.
   */
  take(owner: CacheOwner, index: number, reader = 0): Uint8Array | undefined {
    const slot = this.#lookup(owner, index, reader);
    if (slot < 0) return undefined;
    const data = this.#slots.view(slot);
    this.#remove(slot, false);
    return data;
  }

  /** The page's slot (-1: absent), counted as a hit (and as shared when another mount filled it) or a miss. */
  #lookup(owner: CacheOwner, index: number, reader: number): number {
    const slot = this.#index.find(owner as OwnerState, index);
    if (slot < 0) {
      this.#misses++;
      return -1;
    }
    this.#hits++;
    const filler = this.#slots.filler[slot]!;
    if (reader && filler && filler !== reader) this.#sharedBytesServed += this.#slots.length[slot]!;
    return slot;
  }

  /** True if the page is cached; does not count or reorder. */
  has(owner: CacheOwner, index: number): boolean {
    return this.#index.find(owner as OwnerState, index) >= 0;
  }

  /**
   * Stores a filled page. With slabs (the default) its bytes are copied in. Without, the
   * cache keeps `data` itself (callers must not modify it after), which may be a view into
   * a larger buffer holding the other pages of the same fill: that saves a copy and an
   * allocation per page, and as the fill's pages enter the LRU together they leave it
   * together; get() copies out any page used again.
   */
  put(owner: CacheOwner, index: number, data: Uint8Array, filler = 0): void {
    if (data.length + PAGE_BOOKKEEPING_BYTES > this.budgetBytes) return;
    let o = this.#keep(owner as OwnerState);
    const t = this.#slots;
    let old = this.#index.find(o, index);
    if (this.#slabs) {
      // A replaced page gives its room back first: the new bytes may be longer.
      if (old >= 0) {
        this.#remove(old, false);
        old = -1;
        // That may have been the owner's only page: then it was forgotten.
        o = this.#keep(o);
      }
      data = this.#slabs.copy(data);
    } else if (data.byteLength !== data.buffer.byteLength) {
      let fill = this.#viewedFills.get(data.buffer);
      if (!fill) this.#viewedFills.set(data.buffer, (fill = { put: 0, live: 0 }));
      fill.put++;
      fill.live++;
    }
    if (old >= 0) {
      this.#bytes += data.length - t.length[old]!;
      this.#leaveFill(old);
      t.setData(old, data);
      t.filler[old] = filler;
      t.touch(old);
    } else {
      this.#index.insert(t.add(o, index, data, filler));
      this.#bytes += data.length;
    }
    this.#fills++;
    while (this.#heldBytes() > this.budgetBytes && t.tail >= 0) this.#remove(t.tail, true);
  }

  /**
   * What the budget bounds: the pages' bookkeeping, plus their bytes, or with slabs the
   * slabs' (free room in them included, so holes left by evictions count too; not the
   * emptied slabs kept for reuse by any cache, see slab-recycler.ts).
   */
  #heldBytes(): number {
    return (this.#slabs ? this.#slabs.slabBytes : this.#bytes) + this.#slots.count * PAGE_BOOKKEEPING_BYTES;
  }

  /** Drops every page of an owner (a file's DONTNEED, an unmount). */
  drop(owner: CacheOwner): void {
    // A list of its own: the owner's chain changes as its slots go.
    for (const slot of this.#index.slotsOf(owner as OwnerState)) this.#remove(slot, false);
  }

  /**
   * Drops the pages of every owner whose key starts with `prefix` (one mount's, at
   * unmount). When they are all the pages there are (a mount with a cache of its own),
   * the cache is emptied whole: one page at a time, 17,000 pages of app-a took ~9 ms.
   */
  dropKeyed(prefix: string): void {
    const dropped: OwnerState[] = [];
    let pages = 0;
    for (const o of this.#owners.values()) {
      if (!o.key.startsWith(prefix)) continue;
      dropped.push(o);
      pages += o.count;
    }
    if (pages < this.#slots.count) {
      for (const o of dropped) this.drop(o);
      return;
    }
    // Owner objects outlive the cache's hold on them (callers keep them): none may keep
    // its slot numbers.
    for (const o of dropped) {
      o.count = 0;
      o.first = -1;
    }
    this.#owners.clear();
    this.#slots.clear();
    this.#index.clear();
    this.#slabs?.releaseAll();
    this.#viewedFills = new WeakMap();
    this.#bytes = 0;
  }

  stats(): CacheStats {
    return {
      pages: this.#slots.count,
      owners: this.#owners.size + this.#unkeyedHolding,
      slabBytes: this.#slabs?.slabBytes ?? 0,
      sharedBytesServed: this.#sharedBytesServed,
      bytes: this.#bytes,
      budgetBytes: this.budgetBytes,
      hits: this.#hits,
      misses: this.#misses,
      fills: this.#fills,
      evictions: this.#evictions,
    };
  }

  /** A page's bytes leave the cache: one view fewer into its fill's buffer. */
  #leaveFill(slot: number): void {
    const fill = this.#viewedFills.get(this.#slots.buffer[slot]!);
    if (fill) fill.live--;
  }

  #remove(slot: number, evicted: boolean): void {
    const t = this.#slots;
    if (this.#slabs) this.#slabs.release(t.view(slot));
    else this.#leaveFill(slot);
    const owner = t.owner[slot]!;
    this.#index.remove(slot);
    if (owner.count === 0) {
      if (owner.key === UNKEYED) this.#unkeyedHolding--;
      else if (this.#owners.get(owner.key) === owner) this.#owners.delete(owner.key);
    }
    this.#bytes -= t.length[slot]!;
    t.free(slot);
    if (evicted) this.#evictions++;
  }
}
