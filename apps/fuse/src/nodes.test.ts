import { describe, expect, it } from "vitest";
import { NodeTable } from "./nodes.js";
import { ROOT_NODEID } from "./protocol/opcodes.js";

describe("NodeTable", () => {
  it("counts lookups per nodeid until FORGET gives them back, the root never counted", () => {
    const t = new NodeTable(36n);
    const file = t.nodeidOf(1234n);
    t.remember(file);
    t.remember(file);
    t.remember(t.nodeidOf(36n));
    expect(t.nodeidOf(36n)).toBe(ROOT_NODEID);
    expect([t.live, t.references]).toEqual([1, 2n]);
    t.forget(file, 1n);
    expect([t.live, t.references]).toEqual([1, 1n]);
    t.forget(file, 1n);
    expect([t.live, t.references]).toEqual([0, 0n]);
  });

  it("keeps nodeids past 2^53 apart, and a FORGET of more than was counted drops the nodeid", () => {
    const t = new NodeTable(36n);
    // The same double, two nodeids.
    const a = 2n ** 53n;
    const b = 2n ** 53n + 1n;
    t.remember(a);
    t.remember(b);
    t.remember(b);
    expect([t.live, t.references]).toEqual([2, 3n]);
    t.forget(b, 1n);
    expect([t.live, t.references]).toEqual([2, 2n]);
    t.forget(a, 2n ** 64n - 1n);
    expect([t.live, t.references]).toEqual([1, 1n]);
    t.forget(b, 1n);
    expect(t.live).toBe(0);
  });
});
