/**
 * The rows of a page cache: for each slot, the page's owner, index, filler and bytes (an
 * ArrayBuffer with an offset and length), and its place in one least-recently-used list,
 * kept in typed arrays that grow by doubling. Freed slots are reused first, so the table
 * is as large as the most pages held at once.
 */
export class SlotTable<Owner> {
  /** Per slot; `null` when free. */
  owner: (Owner | null)[] = [];
  buffer: (ArrayBufferLike | null)[] = [];
  index = new Float64Array(0);
  offset = new Float64Array(0);
  length = new Uint32Array(0);
  /** Mount that filled the page (0: unknown). */
  filler = new Uint32Array(0);
  #prev = new Int32Array(0);
  #next = new Int32Array(0);
  /** Most recently used slot, and least (-1: none). */
  head = -1;
  tail = -1;
  count = 0;
  #free: number[] = [];

  /** Frees every slot at once, and lets the columns go (they grow again from the first add). */
  clear(): void {
    this.owner = [];
    this.buffer = [];
    this.index = new Float64Array(0);
    this.offset = new Float64Array(0);
    this.length = new Uint32Array(0);
    this.filler = new Uint32Array(0);
    this.#prev = new Int32Array(0);
    this.#next = new Int32Array(0);
    this.head = -1;
    this.tail = -1;
    this.count = 0;
    this.#free = [];
  }

  /** A new row at the head of the list; returns its slot. */
  add(owner: Owner, index: number, data: Uint8Array, filler: number): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.owner.length;
      if (slot >= this.index.length) this.#grow();
      this.owner.push(null);
      this.buffer.push(null);
    }
    this.owner[slot] = owner;
    this.index[slot] = index;
    this.filler[slot] = filler;
    this.setData(slot, data);
    this.#linkHead(slot);
    this.count++;
    return slot;
  }

  setData(slot: number, data: Uint8Array): void {
    this.buffer[slot] = data.buffer;
    this.offset[slot] = data.byteOffset;
    this.length[slot] = data.byteLength;
  }

  /** The slot's bytes, as a new view. */
  view(slot: number): Uint8Array {
    return new Uint8Array(this.buffer[slot]!, this.offset[slot]!, this.length[slot]!);
  }

  /** Marks the slot most recently used. */
  touch(slot: number): void {
    if (this.head === slot) return;
    this.#unlink(slot);
    this.#linkHead(slot);
  }

  free(slot: number): void {
    this.#unlink(slot);
    this.owner[slot] = null;
    this.buffer[slot] = null;
    this.#free.push(slot);
    this.count--;
  }

  #grow(): void {
    const size = Math.max(64, this.index.length * 2);
    const widen = <T extends Float64Array | Uint32Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.index = widen(this.index, (n) => new Float64Array(n));
    this.offset = widen(this.offset, (n) => new Float64Array(n));
    this.length = widen(this.length, (n) => new Uint32Array(n));
    this.filler = widen(this.filler, (n) => new Uint32Array(n));
    this.#prev = widen(this.#prev, (n) => new Int32Array(n));
    this.#next = widen(this.#next, (n) => new Int32Array(n));
  }

  #linkHead(slot: number): void {
    this.#prev[slot] = -1;
    this.#next[slot] = this.head;
    if (this.head >= 0) this.#prev[this.head] = slot;
    this.head = slot;
    if (this.tail < 0) this.tail = slot;
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev >= 0) this.#next[prev] = next;
    else this.head = next;
    if (next >= 0) this.#prev[next] = prev;
    else this.tail = prev;
    this.#prev[slot] = this.#next[slot] = -1;
  }
}
