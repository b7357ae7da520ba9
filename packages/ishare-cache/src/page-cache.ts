/**
 * A page cache with a byte budget and least-recently-used eviction. Pages belong to an
 * owner (a private inode of one image, or, with sharing, a shared inode); the vfs fills
 * missing pages and the cache only stores, finds and evicts them.
 */

export const PAGE_SIZE = 4096;

export interface CacheStats {
  readonly pages: number;
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

interface PageEntry {
  owner: OwnerState;
  index: number;
  data: Uint8Array;
  /** Mount that filled the page (0: unknown), to count bytes served across mounts. */
  filler: number;
  prev: PageEntry | null;
  next: PageEntry | null;
}

interface OwnerState extends CacheOwner {
  pages: Map<number, PageEntry>;
}

export interface PageCacheOptions {
  /** Most bytes of page data held at once. */
  readonly budgetBytes: number;
}

export class PageCache {
  readonly budgetBytes: number;
  readonly pageSize = PAGE_SIZE;
  readonly #owners = new Map<string, OwnerState>();
  // Doubly-linked LRU list: head is the most recently used page.
  #head: PageEntry | null = null;
  #tail: PageEntry | null = null;
  #pages = 0;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #fills = 0;
  #evictions = 0;
  #sharedBytesServed = 0;
  /** Fill buffers whose pages were put as views: pages put, and pages still cached. */
  readonly #viewedFills = new WeakMap<ArrayBufferLike, { put: number; live: number }>();

  constructor(options: PageCacheOptions) {
    if (!Number.isSafeInteger(options.budgetBytes) || options.budgetBytes < 0) {
      throw new RangeError(`cache budget must be a non-negative integer, got ${options.budgetBytes}`);
    }
    this.budgetBytes = options.budgetBytes;
  }

  /** Whether an owner with this key currently exists. */
  hasOwner(key: string): boolean {
    return this.#owners.has(key);
  }

  /** The owner object for `key`, created on first use. */
  owner(key: string): CacheOwner {
    let o = this.#owners.get(key);
    if (!o) {
      o = { key, pages: new Map() };
      this.#owners.set(key, o);
    }
    return o;
  }

  /**
   * The cached page, marked most recently used, or undefined (counted as a miss).
   * `reader` is the reading mount's id: a page filled by another mount counts as shared.
   */
  get(owner: CacheOwner, index: number, reader = 0): Uint8Array | undefined {
    const e = this.#lookup(owner, index, reader);
    if (!e) return undefined;
    // A page put as a view into its fill's buffer gets its own copy once it is used again
    // and some other page of that buffer has left the cache: then the view would pin
    // bytes nobody holds. While every page of the fill is cached, the view costs nothing.
    const fill = this.#viewedFills.get(e.data.buffer);
    if (fill && fill.live < fill.put) {
      this.#leaveFill(e.data);
      e.data = e.data.slice();
    }
    this.#touch(e);
    return e.data;
  }

  /**
   * Like get(), but the page leaves the cache: for a reader that keeps the bytes itself
   * from now on (the kernel's page cache behind FUSE), so they are not held twice. The
   * bytes may be a view into a larger buffer: copy them, do not keep them.
   */
  take(owner: CacheOwner, index: number, reader = 0): Uint8Array | undefined {
    const e = this.#lookup(owner, index, reader);
    if (!e) return undefined;
    this.#remove(e, false);
    return e.data;
  }

  /** The page's entry, counted as a hit (and as shared when another mount filled it) or a miss. */
  #lookup(owner: CacheOwner, index: number, reader: number): PageEntry | undefined {
    const e = (owner as OwnerState).pages.get(index);
    if (!e) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (reader && e.filler && e.filler !== reader) this.#sharedBytesServed += e.data.length;
    return e;
  }

  /** True if the page is cached; does not count or reorder. */
  has(owner: CacheOwner, index: number): boolean {
    return (owner as OwnerState).pages.has(index);
  }

  /**
   * Stores a filled page (the cache keeps the array: callers must not modify it after).
   * It may be a view into a larger buffer holding the other pages of the same fill: that
   * saves a copy and an allocation per page, and as the fill's pages enter the LRU
   * together they leave it together; get() copies out any page used again.
   */
  put(owner: CacheOwner, index: number, data: Uint8Array, filler = 0): void {
    const o = owner as OwnerState;
    if (data.length > this.budgetBytes) return;
    if (data.byteLength !== data.buffer.byteLength) {
      let fill = this.#viewedFills.get(data.buffer);
      if (!fill) this.#viewedFills.set(data.buffer, (fill = { put: 0, live: 0 }));
      fill.put++;
      fill.live++;
    }
    const old = o.pages.get(index);
    if (old) {
      this.#bytes += data.length - old.data.length;
      this.#leaveFill(old.data);
      old.data = data;
      old.filler = filler;
      this.#touch(old);
    } else {
      const e: PageEntry = { owner: o, index, data, filler, prev: null, next: null };
      o.pages.set(index, e);
      this.#linkHead(e);
      this.#pages++;
      this.#bytes += data.length;
    }
    this.#fills++;
    while (this.#bytes > this.budgetBytes && this.#tail) this.#remove(this.#tail, true);
  }

  /** Drops every page of an owner (a file's DONTNEED, an unmount). */
  drop(owner: CacheOwner): void {
    const o = owner as OwnerState;
    for (const e of o.pages.values()) this.#remove(e, false);
    this.#owners.delete(o.key);
  }

  stats(): CacheStats {
    return {
      pages: this.#pages,
      sharedBytesServed: this.#sharedBytesServed,
      bytes: this.#bytes,
      budgetBytes: this.budgetBytes,
      hits: this.#hits,
      misses: this.#misses,
      fills: this.#fills,
      evictions: this.#evictions,
    };
  }

  #touch(e: PageEntry): void {
    if (this.#head === e) return;
    this.#unlink(e);
    this.#linkHead(e);
  }

  #linkHead(e: PageEntry): void {
    e.prev = null;
    e.next = this.#head;
    if (this.#head) this.#head.prev = e;
    this.#head = e;
    if (!this.#tail) this.#tail = e;
  }

  #unlink(e: PageEntry): void {
    if (e.prev) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.#tail = e.prev;
    e.prev = e.next = null;
  }

  /** A page's bytes leave the cache: one view fewer into its fill's buffer. */
  #leaveFill(data: Uint8Array): void {
    const fill = this.#viewedFills.get(data.buffer);
    if (fill) fill.live--;
  }

  #remove(e: PageEntry, evicted: boolean): void {
    this.#leaveFill(e.data);
    this.#unlink(e);
    e.owner.pages.delete(e.index);
    this.#pages--;
    this.#bytes -= e.data.length;
    if (evicted) this.#evictions++;
  }
}
