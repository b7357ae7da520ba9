import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DATALAYOUT, LCLUSTER, headerOffset } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { compressedFile, kernelAnswersInOrder, kernelRead, ourAnswersInOrder } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";

/**
 * A file read whole is mapped as the kernel's readahead maps it: from the end of the
 * window down, each extent from its own last byte. On a damaged index the lookback of an
 * extent's last lcluster can lead elsewhere than that of its first, and the kernel reads
 * what the last one says.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-readahead-order-");
afterAll(work.remove);

describe.skipIf(!corpus || process.getuid?.() !== 0)("a file's extents, mapped from their last bytes", () => {
  it("corpus/lz4-legacy log.txt with the last lcluster of an extent looking back far past its head (fuzz mutant 521493): read whole it fails, as on a kernel mount, where reading on from the head used to give the original bytes", async () => {
    const image = join(corpus!, "lz4-legacy.erofs");
    const bytes = readFileSync(image);
    const { file, map } = await compressedFile(bytes, "log.txt");
    expect(file.datalayout).toBe(DATALAYOUT.COMPRESSED_FULL);
    // Lcluster 48 holds a head after some bytes of the extent before it, whose last
    // lcluster is 47 (NONHEAD, looking back to that extent's head).
    const lcluster = 47;
    const before = await map(lcluster * 4096);
    const after = await map((lcluster + 1) * 4096 + 4095);
    expect(after.logical).toBeGreaterThan((lcluster + 1) * 4096);
    expect(before.logical + before.length).toBe(after.logical);
    // Full (8-byte) indexes after the map header and 8 bytes of padding; a NONHEAD's
    // lookback distance (delta0) is its first 16 bits of di_u.
    const at = headerOffset(file) + 16 + lcluster * 8;
    expect(bytes.readUInt16LE(at) & 3).toBe(LCLUSTER.NONHEAD);
    expect(lcluster - bytes.readUInt16LE(at + 4)).toBe(Math.floor(before.logical / 4096));
    const damagedBytes = Buffer.from(bytes);
    damagedBytes.writeUInt16LE(28, at + 4);
    const damaged = join(work.path, "legacy-far-lookback.erofs");
    const resealed = resealSuperblock(damagedBytes);
    writeFileSync(damaged, resealed);
    // Read on from the extent's head, nothing changed: its lclusters up to the next head.
    const fromHead = await (await compressedFile(resealed, "log.txt")).map(before.logical);
    expect([fromHead.logical, fromHead.length]).toEqual([before.logical, before.length]);

    const theirs = kernelAnswersInOrder(damaged, [Buffer.from("log.txt")]);
    expect(theirs).toEqual(["log.txt EUCLEAN"]);
    expect(await ourAnswersInOrder(damaged, [Buffer.from("log.txt")])).toEqual(theirs);
    // The page of that lcluster, alone on a fresh mount, fails on both as well.
    const k = KernelMount.tryMount(damaged)!;
    try {
      expect(kernelRead(join(k.dir, "log.txt"), lcluster * 4096, 4096)).toBe("EFSCORRUPTED");
    } finally {
      k.unmount();
    }
    const alone = await mount(damaged);
    try {
      await expect(alone.read(await alone.lookup("log.txt"), lcluster * 4096, 4096)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    } finally {
      await alone.unmount();
    }
    // The undamaged image reads whole, on both.
    expect(await ourAnswersInOrder(image, [Buffer.from("log.txt")])).toEqual(kernelAnswersInOrder(image, [Buffer.from("log.txt")]));
  });
});
