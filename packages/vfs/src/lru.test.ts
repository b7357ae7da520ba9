import { describe, expect, it } from "vitest";
import { lruGet, lruSet } from "./lru.js";

/** A deliberately plain LRU: keys in an array, least recently used first. */
class ArrayLru {
  readonly order: number[] = [];
  readonly values = new Map<number, number>();

  set(key: number, value: number, max: number): void {
    this.touch(key);
    this.values.set(key, value);
    while (this.order.length > max) this.values.delete(this.order.shift()!);
  }

  get(key: number): number | undefined {
    if (this.values.has(key)) this.touch(key);
    return this.values.get(key);
  }

  delete(key: number): void {
    const i = this.order.indexOf(key);
    if (i >= 0) this.order.splice(i, 1);
    this.values.delete(key);
  }

  clear(): void {
    this.order.length = 0;
    this.values.clear();
  }

  private touch(key: number): void {
    const i = this.order.indexOf(key);
    if (i >= 0) this.order.splice(i, 1);
    this.order.push(key);
  }
}

/** xorshift32: the same operations on every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("lruSet / lruGet", () => {
  it.each([1, 2, 7, 64, 300])("evict exactly the least recently used key, through deletes and clears (max %i)", (max) => {
    const next = random(max * 7919 + 1);
    const map = new Map<number, number>();
    const model = new ArrayLru();
    for (let i = 0; i < 20_000; i++) {
      const key = Math.floor(next() * max * 3);
      const op = next();
      if (op < 0.5) {
        lruSet(map, key, i, max);
        model.set(key, i, max);
      } else if (op < 0.9) {
        expect(lruGet(map, key)).toBe(model.get(key));
      } else if (op < 0.999) {
        map.delete(key);
        model.delete(key);
      } else {
        map.clear();
        model.clear();
      }
      if (i % 97 === 0) expect([...map.keys()]).toEqual(model.order);
    }
    expect([...map]).toEqual(model.order.map((k) => [k, model.values.get(k)]));
  });

  it("keeps evicting in order after the map is emptied and refilled past its size, and across maps", () => {
    const a = new Map<number, number>();
    const b = new Map<number, number>();
    for (let i = 0; i < 50; i++) lruSet(a, i, i, 10);
    for (let i = 0; i < 50; i++) lruSet(b, 1000 + i, i, 5);
    expect([...a.keys()]).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    for (const k of [...a.keys()]) a.delete(k);
    for (let i = 100; i < 120; i++) lruSet(a, i, i, 10);
    expect([...a.keys()]).toEqual([110, 111, 112, 113, 114, 115, 116, 117, 118, 119]);
    expect([...b.keys()]).toEqual([1045, 1046, 1047, 1048, 1049]);
  });
});
