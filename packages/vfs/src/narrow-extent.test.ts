import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DATALAYOUT, LCLUSTER, headerOffset } from "@erofs-ts/format";
import { hasCommand, KernelMount, resealSuperblock, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { compressedFile, kernelRead, linesImage } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";

/** Decodes of compressed pclusters in this file's mounts, counted through the codec factory. */
const decodes = vi.hoisted(() => ({ count: 0 }));
vi.mock("@erofs-ts/decompress", async (importOriginal) => {
  const original = await importOriginal<typeof import("@erofs-ts/decompress")>();
  return {
    ...original,
    createDecompressor: (...args: Parameters<typeof original.createDecompressor>) => {
      const d = original.createDecompressor(...args);
      const decode = d.decode.bind(d);
      return { algorithm: d.algorithm, name: d.name, decode: (...a: Parameters<typeof decode>) => (decodes.count++, decode(...a)) };
    },
  };
});

const work = new ScratchDir("vfs-narrow-");
afterAll(work.remove);
const hasMkfs = hasCommand("mkfs.erofs");

describe("an extent whose index is damaged inside it", () => {
  it.skipIf(!hasMkfs)("a head claimed inside a long extent: the lclusters after it map back to the real head, as the kernel maps them, and one read decodes that pcluster once", async () => {
    // Full (8-byte) indexes, each patchable alone; 64 KiB pclusters make extents of ~100 lclusters.
    const { image: img, text } = linesImage(work.path, "long", ["-zlz4hc", "-C65536", "-T0", "--all-root", "-Elegacy-compress"]);
    const image = readFileSync(img);
    const { sb, file, map } = await compressedFile(image, "big.txt");
    expect(file.datalayout).toBe(DATALAYOUT.COMPRESSED_FULL);
    const first = await map(0);
    const lclusters = Math.floor(first.length / sb.blockSize);
    expect(lclusters).toBeGreaterThan(40);
    // Lcluster 20 made a head of its own (HEAD1, clusterofs 0, the extent's block), and
    // lcluster 1's distance to the next head (delta1) pointed at it: the walk on from
    // lcluster 0 now ends there, while the lclusters after it still reach lcluster 0 by
    // their lookback distance (delta0).
    const damaged = Buffer.from(image);
    const indexAt = (lcn: number) => headerOffset(file) + 16 + lcn * 8;
    damaged.writeUInt16LE(19, indexAt(1) + 6);
    damaged.writeUInt16LE(1, indexAt(20));
    damaged.writeUInt16LE(0, indexAt(20) + 2);
    damaged.writeUInt32LE(first.physical / sb.blockSize, indexAt(20) + 4);
    const patched = join(work.path, "long-damaged.erofs");
    writeFileSync(patched, resealSuperblock(damaged));

    // Lclusters 21 up to the extent's last whole one, in one read on a fresh mount.
    const at = 21 * sb.blockSize;
    const length = (lclusters - 21) * sb.blockSize;
    const fs = await mount(patched);
    decodes.count = 0;
    const got = await fs.read(await fs.lookup("big.txt"), at, length);
    const decoded = decodes.count;
    await fs.unmount();
    // The real bytes: the pcluster decoded from its start, as long a prefix as the last
    // lcluster asked for needs, once: not once per map of it (the first asked lcluster's
    // and the last one's, each a prefix of the same pcluster).
    expect(Buffer.from(got).equals(text.subarray(at, at + length))).toBe(true);
    expect(decoded).toBe(1);
    const k = KernelMount.tryMount(patched);
    if (!k) return;
    try {
      expect(kernelRead(join(k.dir, "big.txt"), at, length)).toBe(sha256Hex([got]));
    } finally {
      k.unmount();
    }
  });
});

describe("a stored head whose extent runs past its pcluster", () => {
  it.skipIf(!hasMkfs)("a HEAD1 lcluster made PLAIN (one stored block, an extent of several lclusters): its own lcluster reads the stored bytes, the lclusters after it are refused, each page as on a kernel mount", async () => {
    // Full (8-byte) indexes, each patchable alone; 4 KiB pclusters of LZ4 (several lclusters each).
    const { image: img, text } = linesImage(work.path, "plain-head", ["-zlz4", "-T0", "--all-root", "-Elegacy-compress"]);
    const image = readFileSync(img);
    const { sb, file, map } = await compressedFile(image, "big.txt");
    const bs = sb.blockSize;
    // An extent of 3 lclusters or more whose head starts inside its lcluster, so the
    // head's page holds the end of the extent before it as well.
    let ext = await map(0);
    while (ext.logical % bs === 0 || ext.length < 3 * bs) ext = await map(ext.logical + ext.length);
    const head = Math.floor(ext.logical / bs);
    const damaged = Buffer.from(image);
    const indexAt = headerOffset(file) + 16 + head * 8;
    expect(damaged.readUInt16LE(indexAt) & 3).toBe(LCLUSTER.HEAD1);
    damaged.writeUInt16LE(damaged.readUInt16LE(indexAt) & ~3, indexAt);
    const patched = join(work.path, "plain-head.erofs");
    writeFileSync(patched, resealSuperblock(damaged));

    const pages = [head - 1, head, head + 1, head + 2];
    const ours: string[] = [];
    for (const lcn of pages) ours.push(await ourRead(patched, lcn * bs, bs));
    // The head's page: the extent before, then the stored block's first bytes; the next
    // pages would need more of that block than it holds.
    const stored = image.subarray(ext.physical, ext.physical + (head + 1) * bs - ext.logical);
    expect(ours).toEqual([
      sha256Hex([text.subarray((head - 1) * bs, head * bs)]),
      sha256Hex([text.subarray(head * bs, ext.logical), stored]),
      "EFSCORRUPTED",
      "EFSCORRUPTED",
    ]);
    const theirs: string[] = [];
    for (const lcn of pages) {
      const k = KernelMount.tryMount(patched);
      if (!k) return; // no kernel mount here (not root): the answers above stand alone
      try {
        theirs.push(kernelRead(join(k.dir, "big.txt"), lcn * bs, bs));
      } finally {
        k.unmount();
      }
    }
    expect(ours).toEqual(theirs);
  });
});

describe("a pcluster that failed to decode", () => {
  it.skipIf(!hasMkfs)("is not decoded again: its pages fail with the same error at once, while the pages before it, in the same fills, still read", async () => {
    const { image: img, text } = linesImage(work.path, "garbled", ["-zlz4hc", "-C16384", "-T0", "--all-root"]);
    const image = readFileSync(img);
    const { map } = await compressedFile(image, "big.txt");
    // The third extent's pcluster garbled whole: no LZ4 stream survives it.
    let ext = await map(0);
    for (let i = 0; i < 2; i++) ext = await map(ext.logical + ext.length);
    const damaged = Buffer.from(image);
    damaged.fill(0xa5, ext.physical, ext.physical + ext.physicalLength);
    const patched = join(work.path, "garbled.erofs");
    writeFileSync(patched, damaged);

    const fs = await mount(patched);
    try {
      const inode = await fs.lookup("big.txt");
      const page = Math.floor((ext.logical + ext.length - 1) / 4096) * 4096;
      const outcome = async (at: number) => {
        try {
          return sha256Hex([await fs.read(inode, at, 4096)]);
        } catch (e) {
          if (!ErofsError.isInstance(e)) throw e;
          return `${e.code} ${e.message}`;
        }
      };
      decodes.count = 0;
      const first = await outcome(page);
      expect(first).toMatch(/^EFSCORRUPTED lz4: /);
      const decodedFirst = decodes.count;
      expect(decodedFirst).toBeGreaterThan(0);
      // Again: the same answer without decoding the garbled pcluster; the sound one
      // before it in the widened fill is decoded once more, now remembered as sound.
      expect(await outcome(page)).toBe(first);
      expect(decodes.count - decodedFirst).toBeLessThanOrEqual(1);
      const decodedSecond = decodes.count;
      // And again and again: nothing decoded at all.
      for (let i = 0; i < 5; i++) expect(await outcome(page)).toBe(first);
      expect(decodes.count).toBe(decodedSecond);
      // The first page reads its own bytes (its pcluster is sound).
      expect(await outcome(0)).toBe(sha256Hex([text.subarray(0, 4096)]));
    } finally {
      await fs.unmount();
    }
  });
});

/** fs.read of [at, at + length) on a fresh mount, as kernelRead answers: a sha256, or the error's code. */
async function ourRead(image: string, at: number, length: number): Promise<string> {
  const fs = await mount(image);
  try {
    return sha256Hex([await fs.read(await fs.lookup("big.txt"), at, length)]);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return e.code;
  } finally {
    await fs.unmount();
  }
}
