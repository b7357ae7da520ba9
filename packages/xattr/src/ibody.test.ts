import { ErofsError } from "@erofs-ts/format";
import { describe, expect, it } from "vitest";
import { dec, entryBytes, ibodyBytes } from "./xattr.test-helper.js";
import { EMPTY_IBODY, XATTR_ENTRY_HEADER_SIZE, XATTR_IBODY_HEADER_SIZE, parseXattrEntry, parseXattrIbody, xattrEntrySize, xattrIbodyHeaderSize } from "./index.js";

function code(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (ErofsError.isInstance(e)) return e.code;
    throw e;
  }
}

describe("xattr entries", () => {
  it("sizes: 4-byte header + name + value, rounded up to 4", () => {
    expect(XATTR_ENTRY_HEADER_SIZE).toBe(4);
    expect(xattrEntrySize(Uint8Array.of(4, 1, 5, 0))).toBe(16);
    expect(xattrEntrySize(Uint8Array.of(4, 1, 0, 0))).toBe(8);
    expect(xattrEntrySize(Uint8Array.of(0, 2, 0, 0))).toBe(4);
    expect(xattrEntrySize(Uint8Array.of(255, 1, 0xff, 0xff))).toBe((4 + 255 + 65535 + 3) & ~3);
    expect(code(() => xattrEntrySize(Uint8Array.of(4, 1, 5)))).toBe("EFSCORRUPTED");
  });

  it("decodes name index, name and value at an offset", () => {
    const bytes = new Uint8Array(8 + 16);
    bytes.set(entryBytes(6, "selinux", "ctx\0"), 8);
    const { entry, size } = parseXattrEntry(bytes, 8, "t");
    expect(entry.nameIndex).toBe(6);
    expect(dec(entry.name)).toBe("selinux");
    expect(dec(entry.value)).toBe("ctx\0");
    expect(size).toBe(16);
  });

  it("an entry whose name or value runs past the bytes is corrupt", () => {
    const e = entryBytes(1, "name", "value!");
    expect(code(() => parseXattrEntry(e.subarray(0, 4 + 4 + 5), 0, "t"))).toBe("EFSCORRUPTED");
    expect(code(() => parseXattrEntry(e.subarray(0, 6), 0, "t"))).toBe("EFSCORRUPTED");
    expect(code(() => parseXattrEntry(e, e.length - 2, "t"))).toBe("EFSCORRUPTED");
  });
});

describe("parseXattrIbody", () => {
  it("no body: no xattrs", () => {
    expect(parseXattrIbody(new Uint8Array(0), "nid 1")).toBe(EMPTY_IBODY);
  });

  it("header, shared ids and inline entries in order", () => {
    const body = ibodyBytes(0xfffffffd, [3, 0x10000], [entryBytes(1, "a", "1"), entryBytes(2, "", new Uint8Array(28)), entryBytes(4, "overlay.opaque", "y")]);
    const x = parseXattrIbody(body, "nid 1");
    expect(XATTR_IBODY_HEADER_SIZE).toBe(12);
    expect(x.nameFilter).toBe(0xfffffffd);
    expect(x.sharedIds).toEqual([3, 0x10000]);
    expect(x.inline.map((e) => [e.nameIndex, dec(e.name), e.value.length])).toEqual([
      [1, "a", 1],
      [2, "", 28],
      [4, "overlay.opaque", 1],
    ]);
    // Each offset is where the entry's own bytes start in the body.
    for (const e of x.inline) expect(parseXattrEntry(body, e.offset, "t").entry).toEqual({ nameIndex: e.nameIndex, name: e.name, value: e.value });
    expect(x.inline.map((e) => e.offset)).toEqual([12 + 8, 12 + 8 + 8, 12 + 8 + 8 + 32]);
  });

  it("shared ids only", () => {
    const x = parseXattrIbody(ibodyBytes(0, [7], []), "nid 1");
    expect(x.sharedIds).toEqual([7]);
    expect(x.inline).toEqual([]);
  });

  it("a body of only the 12-byte header is unsupported (as the kernel); shorter is corrupt", () => {
    expect(code(() => parseXattrIbody(new Uint8Array(12), "nid 1"))).toBe("EOPNOTSUPP");
    expect(code(() => parseXattrIbody(new Uint8Array(8), "nid 1"))).toBe("EFSCORRUPTED");
  });

  it("shared ids that overflow the body are read from the bytes given after it, and leave no inline entries (as the kernel)", () => {
    const bytes = ibodyBytes(0, [1, 2, 3], [entryBytes(1, "x", "")]);
    // A body of 16 bytes: the header and one id; the other two lie after it.
    const x = parseXattrIbody(bytes, "nid 1", 16);
    expect(xattrIbodyHeaderSize(bytes)).toBe(24);
    expect(x.sharedIds).toEqual([1, 2, 3]);
    expect(x.inline).toEqual([]);
  });

  it("more shared ids than the body holds, given the body alone, is corrupt", () => {
    const body = ibodyBytes(0, [1, 2], []);
    body[4] = 3;
    expect(code(() => parseXattrIbody(body, "nid 1"))).toBe("EFSCORRUPTED");
    const full = ibodyBytes(0, [], [entryBytes(1, "x", "")]);
    full[4] = 255;
    expect(code(() => parseXattrIbody(full, "nid 1"))).toBe("EFSCORRUPTED");
  });

  it("an entry running past the body (value size, name length, or a bare partial header) is corrupt", () => {
    const body = ibodyBytes(0, [], [entryBytes(1, "abc", "0123"), entryBytes(1, "d", "")]);
    const tooLong = body.slice();
    tooLong[12 + 2] = 200;
    expect(code(() => parseXattrIbody(tooLong, "nid 1"))).toBe("EFSCORRUPTED");
    const longName = body.slice();
    longName[12] = 250;
    expect(code(() => parseXattrIbody(longName, "nid 1"))).toBe("EFSCORRUPTED");
    // The second entry's padded size (8) runs past a body cut to hold 6 of its bytes.
    expect(code(() => parseXattrIbody(body.subarray(0, body.length - 2), "nid 1"))).toBe("EFSCORRUPTED");
    // 1..3 bytes after the last entry: not even an entry header.
    const tail = new Uint8Array(body.length + 2);
    tail.set(body);
    expect(code(() => parseXattrIbody(tail, "nid 1"))).toBe("EFSCORRUPTED");
  });

  it("the error names the inode", () => {
    const body = ibodyBytes(0, [1], []);
    body[4] = 9;
    expect(() => parseXattrIbody(body, "nid 1234")).toThrow(/nid 1234/);
  });

  it("random bodies parse or give a typed error, and parsed entries stay inside the body", () => {
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 3000; i++) {
      const len = 4 * (rnd() % 40);
      const b = new Uint8Array(len).map(() => (rnd() % 4 === 0 ? rnd() & 0xff : rnd() % 8));
      const c = code(() => parseXattrIbody(b, "fuzz"));
      expect(["ok", "EFSCORRUPTED", "EOPNOTSUPP"]).toContain(c);
      if (c === "ok" && len > 0) {
        const p = parseXattrIbody(b, "fuzz");
        for (const e of p.inline) {
          expect(e.name.buffer).toBe(b.buffer);
          expect(e.value.byteOffset + e.value.length).toBeLessThanOrEqual(b.length);
        }
      }
    }
  });
});
