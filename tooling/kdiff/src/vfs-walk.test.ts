import { describe, expect, it } from "vitest";
import { ErofsError, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { readAsSyscall } from "./vfs-walk.js";

/** A file of `size` bytes (byte i is i mod 251) whose reads fail when they touch a page in `bad`, or, with `wholeFails`, whenever they span more than one page. */
function fakeFs(size: number, bad: Set<number>, wholeFails = false): { fs: ErofsFs; calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  const read = async (_inode: Inode, offset: number, length: number): Promise<Uint8Array> => {
    calls.push([offset, length]);
    const first = Math.floor(offset / 4096);
    const last = Math.floor((offset + length - 1) / 4096);
    for (let p = first; p <= last; p++) if (bad.has(p)) throw new ErofsError("EIO", `page ${p}`);
    if (wholeFails && last > first) throw new ErofsError("EFSCORRUPTED", "spans pages");
    return Uint8Array.from({ length: Math.min(length, size - offset) }, (_, i) => (offset + i) % 251);
  };
  return { fs: { read } as unknown as ErofsFs, calls };
}
const inode = {} as Inode;
const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) % 251);

describe("readAsSyscall: a positional read as pread(2) on a mount answers it", () => {
  it("a range that reads is one call", async () => {
    const { fs, calls } = fakeFs(40_000, new Set());
    expect(await readAsSyscall(fs, inode, 100, 20_000)).toEqual(bytes(100, 20_000));
    expect(calls).toEqual([[100, 20_000]]);
  });

  it("a failing range gives the bytes before its first failing page, read a page at a time", async () => {
    const { fs, calls } = fakeFs(40_000, new Set([3]));
    expect(Buffer.from(await readAsSyscall(fs, inode, 100, 20_000))).toEqual(Buffer.from(bytes(100, 3 * 4096 - 100)));
    expect(calls).toEqual([[100, 20_000], [100, 3996], [4096, 4096], [8192, 4096], [12288, 4096]]);
  });

  it("fails as the first page fails when no byte comes before it", async () => {
    const { fs } = fakeFs(40_000, new Set([0]));
    await expect(readAsSyscall(fs, inode, 100, 20_000)).rejects.toMatchObject({ code: "EIO", message: expect.stringContaining("page 0") });
  });

  it("keeps the range's own failure when every page reads alone (the vfs's fault, not damage)", async () => {
    const { fs } = fakeFs(40_000, new Set(), true);
    await expect(readAsSyscall(fs, inode, 100, 20_000)).rejects.toMatchObject({ code: "EFSCORRUPTED" });
  });
});
