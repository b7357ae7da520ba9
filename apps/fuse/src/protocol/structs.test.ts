import { describe, expect, it } from "vitest";
import {
  ATTR_OUT_SIZE,
  ENTRY_OUT_SIZE,
  IN_HEADER_SIZE,
  ProtocolError,
  direntSize,
  encodeInitOut,
  nameAt,
  parseRequest,
  writeDirent,
} from "./structs.js";

/** A request as the kernel lays it out: fuse_in_header then the arguments. */
function request(opcode: number, body: Uint8Array, unique = 7n, nodeid = 1n): Uint8Array {
  const out = new Uint8Array(IN_HEADER_SIZE + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint32(4, opcode, true);
  v.setBigUint64(8, unique, true);
  v.setBigUint64(16, nodeid, true);
  v.setUint32(24, 1000, true);
  out.set(body, IN_HEADER_SIZE);
  return out;
}

describe("FUSE message layouts", () => {
  it("sizes the kernel checks (fuse.h: entry_out 128, attr_out 104, init_out 64)", () => {
    expect(ENTRY_OUT_SIZE).toBe(128);
    expect(ATTR_OUT_SIZE).toBe(104);
    expect(encodeInitOut({ major: 7, minor: 39, maxReadahead: 1, flags: 0x80000000, maxBackground: 1, congestionThreshold: 1, maxWrite: 4096, timeGran: 1, maxPages: 256, flags2: 16 })).toHaveLength(64);
  });

  it("parses a request and its NUL-terminated name; rejects short or inconsistent ones", () => {
    const req = parseRequest(request(1, new TextEncoder().encode("name\0")), IN_HEADER_SIZE + 5);
    expect(req.header).toMatchObject({ opcode: 1, unique: 7n, nodeid: 1n, uid: 1000 });
    expect(new TextDecoder().decode(nameAt(req, 0))).toBe("name");
    expect(() => nameAt(parseRequest(request(1, new Uint8Array([0x61])), IN_HEADER_SIZE + 1), 0)).toThrow(ProtocolError);
    expect(() => parseRequest(new Uint8Array(10), 10)).toThrow(ProtocolError);
    expect(() => parseRequest(request(1, new Uint8Array(8)), IN_HEADER_SIZE + 4)).toThrow(ProtocolError);
  });

  it("dirent records are 8-byte aligned and zero-padded", () => {
    expect(direntSize(1, false)).toBe(32);
    expect(direntSize(8, false)).toBe(32);
    expect(direntSize(9, false)).toBe(40);
    expect(direntSize(1, true)).toBe(128 + 32);
    const out = new Uint8Array(64).fill(0xaa);
    const n = writeDirent(out, 0, { ino: 5n, offset: 1, type: 4, name: new Uint8Array([0x61, 0x62, 0x63]) }, null);
    expect(n).toBe(32);
    const v = new DataView(out.buffer);
    expect([v.getBigUint64(0, true), v.getBigUint64(8, true), v.getUint32(16, true), v.getUint32(20, true)]).toEqual([5n, 1n, 3, 4]);
    expect([...out.subarray(27, 32)]).toEqual([0, 0, 0, 0, 0]);
    expect(out[32]).toBe(0xaa);
  });
});
