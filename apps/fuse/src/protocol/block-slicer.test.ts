import { describe, expect, it } from "vitest";
import { BlockSlicer } from "./block-slicer.js";
import { ENTRY_OUT_SIZE, encodeAttrOut, encodeEntryOut } from "./structs.js";

describe("BlockSlicer", () => {
  it("cuts zeroed, 8-byte aligned slices that never share bytes, and gives a large one a block of its own", () => {
    const s = new BlockSlicer(256);
    const slices = [s.take(100), s.take(3), s.take(128), s.take(1000), s.take(8)];
    expect(slices.map((x) => x.length)).toEqual([100, 3, 128, 1000, 8]);
    for (const x of slices) {
      expect(x.byteOffset % 8).toBe(0);
      expect(x.every((b) => b === 0)).toBe(true);
    }
    // Slices of one block do not overlap.
    for (let i = 0; i < slices.length; i++) {
      for (let j = 0; j < slices.length; j++) {
        if (i === j || slices[i]!.buffer !== slices[j]!.buffer) continue;
        const [a, b] = [slices[i]!, slices[j]!];
        expect(a.byteOffset + a.length <= b.byteOffset || b.byteOffset + b.length <= a.byteOffset).toBe(true);
      }
    }
    expect(slices[3]!.buffer.byteLength).toBeGreaterThanOrEqual(1000);
    expect(s.view.buffer).toBe(slices[4]!.buffer);
  });

  it("a reply built earlier keeps its bytes when later replies are built (encoders share blocks)", () => {
    const attr = { ino: 9n, size: 4096n, blocks: 8n, mtimeSec: 1n, mtimeNsec: 2, mode: 0o100644, nlink: 1, uid: 3, gid: 4, rdev: 0, blksize: 4096 };
    const first = encodeEntryOut(11n, attr, { seconds: 86400 });
    const copy = first.slice();
    // Enough replies to fill the block the first was cut from and start others.
    for (let i = 0; i < 2000; i++) encodeAttrOut({ ...attr, ino: BigInt(i) }, { seconds: i });
    expect(first).toEqual(copy);
    expect(first).toHaveLength(ENTRY_OUT_SIZE);
    const v = new DataView(first.buffer, first.byteOffset, first.length);
    expect([v.getBigUint64(0, true), v.getBigUint64(16, true), v.getBigUint64(40, true)]).toEqual([11n, 86400n, 9n]);
    // fuse_attr_out: attr_valid, attr_valid_nsec and a dummy (zeros), then the attr.
    const a = encodeAttrOut(attr, { seconds: 5 });
    const av = new DataView(a.buffer, a.byteOffset, a.length);
    expect([av.getBigUint64(0, true), av.getBigUint64(8, true), av.getBigUint64(16, true), av.getUint32(16 + 60, true)]).toEqual([5n, 0n, 9n, 0o100644]);
  });
});
