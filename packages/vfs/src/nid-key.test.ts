import { describe, expect, it } from "vitest";
import { nidKey, nidOfKey } from "./nid-key.js";

describe("nidKey", () => {
  const nids = [0n, 1n, 27n, 0x7fff_ffffn, 0x8000_0000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];

  it("is a number up to 2^53 - 1 and the bigint above, and gives the nid back", () => {
    for (const nid of nids) {
      const key = nidKey(nid);
      expect(typeof key).toBe(nid < 2n ** 53n ? "number" : "bigint");
      expect(nidOfKey(key)).toBe(nid);
    }
  });

  it("keeps nids apart that a double cannot tell apart", () => {
    // 2^53 and 2^53 + 1 are the same double.
    const m = new Map(nids.map((nid) => [nidKey(nid), nid]));
    expect(m.size).toBe(nids.length);
    for (const nid of nids) expect(m.get(nidKey(nid))).toBe(nid);
  });
});
