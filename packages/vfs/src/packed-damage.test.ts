import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALG_INTERLACED, COMPRESSION, DATALAYOUT, EROFS_SUPER_OFFSET, LCLUSTER, headerOffset, loadZInfo, mapCompressed, type ReadMode, type ZExtent } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, repoRoot, resealSuperblock, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { filePaths, inodeAt, kernelAnswers, kernelRead, kernelAnswersInOrder, loopDeviceView, ourAnswers, ourAnswersInOrder, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount, type Inode } from "./index.js";

/**
 * A damaged pcluster of the packed inode fails only the files whose fragments it holds,
 * as on a kernel mount, which decodes only the packed pages a read needs: the vfs fills
 * the packed inode ahead of the fragment asked for (the next fragments are usually wanted
 * next), and such a fill must not turn the damage of a later pcluster into an error for
 * a fragment that does not touch it.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-packed-damage-");
afterAll(work.remove);

/** The packed inode's extent holding byte `at(size)` of it, and the image's files. */
async function packedExtent(image: string, bytes: Buffer, at: (size: number) => number, mode: ReadMode = "readahead"): Promise<{ extent: ZExtent; paths: Buffer[] }> {
  const fs = await mount(image);
  try {
    const packed = await fs.iget(fs.superblock.packedNid);
    const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
    const extent = await mapCompressed(packed, fs.superblock, await loadZInfo(packed, fs.superblock, read), at(packed.size), read, undefined, mode);
    return { extent, paths: await filePaths(fs, await fs.root()) };
  } finally {
    await fs.unmount();
  }
}

describe.skipIf(!corpus || process.getuid?.() !== 0)("a damaged pcluster of the packed inode, against the kernel", () => {
  it("corpus/lz4-allfragments with the packed inode's i_mode zeroed: the mount is refused, as the kernel's, which reads that inode at mount", async () => {
    const image = join(corpus!, "lz4-allfragments.erofs");
    const fs = await mount(image);
    const packed = await fs.iget(fs.superblock.packedNid);
    await fs.unmount();
    const bytes = Buffer.from(readFileSync(image));
    // i_mode sits 4 bytes into either inode form, after i_format and i_xattr_icount.
    bytes.writeUInt16LE(0, inodeAt(packed) + 4);
    const damaged = join(work.path, "packed-mode.erofs");
    writeFileSync(damaged, bytes);
    const k = KernelMount.tryMount(damaged);
    k?.unmount();
    expect(k).toBeNull();
    await expect(mount(damaged)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
  });

  it("corpus/lz4-allfragments with the packed inode's last pcluster garbled: the same files read, and fail, as on a kernel mount", async () => {
    const image = join(corpus!, "lz4-allfragments.erofs");
    const bytes = readFileSync(image);
    const { extent: last, paths } = await packedExtent(image, bytes, (size) => size - 1);
    expect(last.kind).toBe("encoded");
    // Every byte of the pcluster: no LZ4 stream survives it.
    const damagedBytes = Buffer.from(bytes);
    damagedBytes.fill(0xa5, last.physical, last.physical + last.physicalLength);
    const damaged = join(work.path, "packed-damage.erofs");
    writeFileSync(damaged, damagedBytes);

    const theirs = kernelAnswers(damaged, paths);
    const ours = await ourAnswers(damaged, paths);
    expect(ours).toEqual(theirs);
    // The damage fails some files and spares most.
    const failed = theirs.filter((line) => line.endsWith(" EUCLEAN")).length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(paths.length / 2);
  });

  it("corpus/lzma-big with bytes flipped late in its packed inode's one LZMA pcluster: every fragment fails, as on a kernel mount, which decodes that extent whole for any page of it", async () => {
    const image = join(corpus!, "lzma-big.erofs");
    const bytes = readFileSync(image);
    const found = await packedExtent(image, bytes, () => 0);
    const first = found.extent;
    // Every file read means decoding the 4 MiB extent (twice, for the vfs: widened, then
    // as asked): every eighth file keeps the test short.
    const paths = found.paths.filter((_, i) => i % 8 === 0);
    expect(first.kind).toBe("encoded");
    // Far past the bytes the first fragments decode from.
    const damagedBytes = Buffer.from(bytes);
    const at = first.physical + Math.floor(first.physicalLength * 0.9);
    for (let i = at; i < at + 8; i++) damagedBytes[i] = damagedBytes[i]! ^ 0x5a;
    const damaged = join(work.path, "packed-lzma-damage.erofs");
    writeFileSync(damaged, damagedBytes);

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EUCLEAN")).length).toBeGreaterThan(paths.length / 2);
  });

  it("corpus/wide-lz4 with fuzz mutant 510496's damage, a stored head sharing a block with an LZ4 extent of the packed inode: whichever fragment is read first sets how that block decodes, as on a kernel mount", async () => {
    const image = join(corpus!, "wide-lz4.erofs");
    const bytes = readFileSync(image);
    const fs = await mount(image);
    const packed = await fs.iget(fs.superblock.packedNid);
    await fs.unmount();
    // The packed inode's compact indexes: 6 of 4 bytes, then 2-byte packs. Bits 192-223 of
    // the pack for lclusters 38-53 set to 1 << 31 make lcluster 52 a stored head (type 0,
    // offset 0) whose block, counted in the pack, is the one the LZ4 extent at lcluster 56 is in.
    const damagedBytes = Buffer.from(bytes);
    damagedBytes.writeUInt32LE(0x8000_0000, headerOffset(packed) + 8 + 112);
    const damaged = join(work.path, "packed-shared-block.erofs");
    writeFileSync(damaged, resealSuperblock(damagedBytes));

    const { extent: stored, paths } = await packedExtent(damaged, damagedBytes, () => 52 * 4096);
    expect(stored.algorithm).toBe(ALG_INTERLACED); // stored, rotated (mkfs.erofs 1.9 interlaces them)
    const { extent: lz4 } = await packedExtent(damaged, damagedBytes, () => 57 * 4096);
    expect(lz4.algorithm).toBe(COMPRESSION.LZ4);
    expect(lz4.physical).toBe(stored.physical);
    // A file whose fragment lies in each.
    const inside = async (ext: ZExtent) => {
      const fs = await mount(damaged);
      try {
        for (const path of paths) {
          const z = await loadZInfo(await fs.lookup(path), fs.superblock, async (o, l) => damagedBytes.subarray(o, o + l));
          const file = await fs.lookup(path);
          if (z.wholeFragment && z.fragmentOffset >= ext.logical && z.fragmentOffset + file.size <= ext.logical + ext.length) return path;
        }
      } finally {
        await fs.unmount();
      }
      throw new Error(`no fragment inside [${ext.logical}, +${ext.length})`);
    };
    const a = await inside(stored);
    const b = await inside(lz4);

    const storedFirst = await ourAnswersInOrder(damaged, [a, b]);
    const lz4First = await ourAnswersInOrder(damaged, [b, a]);
    // Read first, each reads in its own format; read second, in the other's: the LZ4
    // extent asks the stored block for more than it holds.
    expect(storedFirst[1]).toMatch(/ EOPNOTSUPP$/);
    expect(lz4First[0]).toMatch(/ [0-9a-f]{64}$/);
    expect(lz4First[1]).not.toBe(storedFirst[0]);
    expect(storedFirst).toEqual(kernelAnswersInOrder(damaged, [a, b]));
    expect(lz4First).toEqual(kernelAnswersInOrder(damaged, [b, a]));
  });

  it("corpus/wide-lz4 with an lcluster of the packed inode looking back to another extent's head (fuzz mutant 510287): the fragments around it read, and fail, as on a kernel mount, in either order", async () => {
    const image = join(corpus!, "wide-lz4.erofs");
    const bytes = readFileSync(image);
    const { extent, paths } = await packedExtent(image, bytes, () => 47 * 4096);
    expect(extent.algorithm).toBe(COMPRESSION.LZ4);
    const fs = await mount(image);
    const packed = await fs.iget(fs.superblock.packedNid);
    await fs.unmount();
    // Compact indexes, 14-bit entries (2-bit type, 12-bit value) in 32-byte packs of 16
    // after 6 4-byte ones: lcluster 47 (NONHEAD, in the extent from lcluster 45) gets a
    // lookback distance of 26, to lcluster 21, whose extent starts at lcluster 19.
    const ebase = headerOffset(packed) + 8;
    expect(ebase % 32).toBe(8); // so 6 4-byte entries come first
    const bit = (47 - 6) % 16 * 14;
    const at = ebase + 24 + Math.floor((47 - 6) / 16) * 32 + (bit >> 3);
    const damagedBytes = Buffer.from(bytes);
    const word = damagedBytes.readUInt32LE(at);
    const entry = (word >>> (bit & 7)) & 0x3fff;
    expect(entry >>> 12).toBe(LCLUSTER.NONHEAD);
    expect(47 - (entry & 0xfff)).toBe(Math.floor(extent.logical / 4096));
    damagedBytes.writeUInt32LE(((word & ~(0x3fff << (bit & 7))) | (((LCLUSTER.NONHEAD << 12) | 26) << (bit & 7))) >>> 0, at);
    const damaged = join(work.path, "packed-lookback.erofs");
    writeFileSync(damaged, resealSuperblock(damagedBytes));
    const { extent: stranger } = await packedExtent(damaged, damagedBytes, () => 47 * 4096);
    expect(stranger.logical).toBeLessThan(21 * 4096);

    // The fragments in lclusters 46 to 48, in order and backwards.
    const near: Buffer[] = [];
    const one = await mount(damaged);
    try {
      for (const path of paths) {
        const z = await loadZInfo(await one.lookup(path), one.superblock, async (o, l) => damagedBytes.subarray(o, o + l));
        const last = z.fragmentOffset + (await one.lookup(path)).size - 1;
        if (z.wholeFragment && z.fragmentOffset >= 46 * 4096 && last < 49 * 4096) near.push(path);
      }
    } finally {
      await one.unmount();
    }
    expect(near.length).toBeGreaterThan(3);
    const forward = await ourAnswersInOrder(damaged, near);
    const backward = await ourAnswersInOrder(damaged, [...near].reverse());
    // Read first, the stranger's page fails (its own lookback); read after the page
    // behind it, it was decoded with that page, in its extent.
    expect(forward.filter((line) => line.endsWith(" EUCLEAN")).length).toBeGreaterThan(0);
    expect(backward.filter((line) => line.endsWith(" EUCLEAN")).length).toBeLessThan(forward.filter((line) => line.endsWith(" EUCLEAN")).length);
    expect(forward).toEqual(kernelAnswersInOrder(damaged, near));
    expect(backward).toEqual(kernelAnswersInOrder(damaged, [...near].reverse()));
  });

  it("corpus/lz4-allfragments with a NONHEAD lcluster of the packed inode made a head whose block is past the image (fuzz mutant 521354): the file over it reads whole, as on a kernel mount, whose readahead takes its pages last to first", async () => {
    const image = join(corpus!, "lz4-allfragments.erofs");
    const bytes = readFileSync(image);
    const { extent, paths } = await packedExtent(image, bytes, () => 22 * 4096);
    const fs = await mount(image);
    const packed = await fs.iget(fs.superblock.packedNid);
    // The file whose fragment covers packed lclusters 21 to 23.
    let file: Buffer | undefined;
    let fileSize = 0;
    for (const path of paths) {
      const inode = await fs.lookup(path);
      if (inode.datalayout !== DATALAYOUT.COMPRESSED_FULL && inode.datalayout !== DATALAYOUT.COMPRESSED_COMPACT) continue;
      const z = await loadZInfo(inode, fs.superblock, async (o, l) => bytes.subarray(o, o + l));
      if (z.wholeFragment && z.fragmentOffset < 21 * 4096 && z.fragmentOffset + inode.size > 24 * 4096) [file, fileSize] = [path, inode.size];
    }
    await fs.unmount();
    expect(file).toBeDefined();
    // Legacy (8-byte) indexes after the 8-byte map header and 8 bytes of padding: lcluster 22 is inside the
    // extent that starts in lcluster 21. Its type (the low 2 bits of di_advise) becomes
    // HEAD1, so its delta fields read as a block address far past the image's end.
    expect(packed.datalayout).toBe(DATALAYOUT.COMPRESSED_FULL);
    expect(Math.floor(extent.logical / 4096)).toBe(21);
    const at = headerOffset(packed) + 16 + 22 * 8;
    expect(bytes[at]! & 3).toBe(LCLUSTER.NONHEAD);
    const damagedBytes = Buffer.from(bytes);
    damagedBytes[at] = (bytes[at]! & ~3) | LCLUSTER.HEAD1;
    const damaged = join(work.path, "packed-head-past-end.erofs");
    writeFileSync(damaged, resealSuperblock(damagedBytes));

    // Read whole, the packed page after lcluster 22's is read first, and its extent (from
    // lcluster 23's lookback) fills lcluster 22's page too: the original content.
    const whole = await ourAnswersInOrder(damaged, [file!]);
    expect(whole).toEqual(kernelAnswersInOrder(damaged, [file!]));
    expect(whole).toEqual(kernelAnswersInOrder(image, [file!]));
    // Read alone, the page over lcluster 22 maps through the new head and fails, on both.
    const page = Math.floor((22 * 4096 + 4095 - (await packedFragmentOffset(image, file!))) / 4096);
    const k = KernelMount.tryMount(damaged)!;
    try {
      expect(kernelRead(join(k.dir, file!.toString()), page * 4096, 4096)).toBe("EIO");
    } finally {
      k.unmount();
    }
    const alone = await mount(damaged);
    try {
      await expect(alone.read(await alone.lookup(file!), page * 4096, 4096)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EIO");
    } finally {
      await alone.unmount();
    }
    expect(page * 4096).toBeLessThan(fileSize);
  });

  it("corpus/real/app-a-zstd cut 8,399 bytes short (fuzz mutant 530347): the small files whose bytes lie in the cut zstd pcluster read as on a kernel mount, which streams a frame until it has an extent's bytes and checks nothing after them (read keeping no pages, as erofs-fuse and erofs-cli read, they failed EFSCORRUPTED here: frame longer than its extent)", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const bytes = readFileSync(image);
    const damaged = join(work.path, "app-a-zstd-cut.erofs");
    writeFileSync(damaged, bytes.subarray(0, bytes.length - 8399));
    const paths = ["eslint-visitor-keys/lib/index.js", "espree/LICENSE", "espree/lib/options.js", "esquery/license.txt"];
    const theirs = kernelAnswers(damaged, paths.map((p) => Buffer.from(p)));
    expect(theirs.filter((line) => / E[A-Z]+$/.test(line))).toEqual([]);
    const ours = await mount(damaged);
    try {
      const answers: string[] = [];
      for (const path of paths) {
        const inode = await ours.lookup(path);
        answers.push(`${path} ${sha256Hex([await ours.read(inode, 0, inode.size, { cache: false })])}`);
      }
      expect(answers).toEqual(theirs);
    } finally {
      await ours.unmount();
    }
  });

  it("corpus/real/app-a-zstd cut to 21,281,605 bytes, inside its packed inode's index (real mutant 535785): a fragment whose page spans two packed pages, the second of which maps on its own to another extent, reads that page's bytes as the page's own read gave them, as on a kernel mount (not from the first page's extent, decoded for the first page)", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const bytes = readFileSync(image);
    const damaged = join(work.path, "app-a-zstd-cut-index.erofs");
    writeFileSync(damaged, bytes.subarray(0, 21_281_605));
    const path = Buffer.from("prettier/plugins/meriyah.js");

    // Premise: page 16 of the file holds the end of one packed page and the start of the
    // next; the loop device (whole sectors, zeros past them) maps that next page to an
    // extent of its own, while the page before maps to one reaching over it.
    const fs = await mount(damaged);
    const sb = fs.superblock;
    const packed = await fs.iget(sb.packedNid);
    await fs.unmount();
    const fragmentAt = await packedFragmentOffset(damaged, path);
    const second = Math.floor((fragmentAt + 16 * 4096 + 4095) / 4096);
    expect(Math.floor((fragmentAt + 16 * 4096) / 4096)).toBe(second - 1);
    const device = loopDeviceView(bytes.subarray(0, 21_281_605));
    const read = async (offset: number, length: number) => device.subarray(offset, offset + length);
    const z = await loadZInfo(packed, sb, read);
    const before = await mapCompressed(packed, sb, z, second * 4096 - 1, read);
    const own = await mapCompressed(packed, sb, z, second * 4096 + 4095, read);
    expect(before.logical + before.length).toBeGreaterThan(second * 4096);
    expect(own.logical).toBe(second * 4096);

    const kernel = kernelAnswers(damaged, [path]);
    expect(await ourAnswers(damaged, [path])).toEqual(kernel);
    expect(kernel).not.toEqual(kernelAnswers(image, [path]));
  });

  it("corpus/real/app-a-lzma with a bit flipped early in one LZMA pcluster of its packed inode (real-image mutant 530513): a fragment in the extent before it reads, as on a kernel mount, although the page it ends in holds that damaged extent's first bytes; fragments past the damage fail on both", async () => {
    const image = join(corpus!, "real/app-a-lzma.erofs");
    const bytes = readFileSync(image);
    const path = Buffer.from("eslint/lib/linter/safe-emitter.js");
    const { at, holder, holderEnd, next, paths } = await fragmentAndNextExtent(image, bytes, path);
    // The fragment's last page is the one where the next extent (LZMA, a block or more) starts.
    expect([holder.algorithm, next.algorithm, next.logical]).toEqual([COMPRESSION.LZMA, COMPRESSION.LZMA, holderEnd]);
    expect(next.length).toBeGreaterThan(4096);
    expect(Math.floor((at + 2000) / 4096)).toBe(Math.floor(holderEnd / 4096));
    // The mutant's flip: 8,639 bytes into the next pcluster, early in its stream.
    const damagedBytes = Buffer.from(bytes);
    const flip = next.physical + 8639;
    damagedBytes[flip] = damagedBytes[flip]! ^ 0x40;
    const damaged = join(work.path, "app-a-lzma-flip.erofs");
    writeFileSync(damaged, damagedBytes);
    // The fragments lying in the damaged extent, and the one just before the file's.
    const inNext: Buffer[] = [];
    let before: Buffer | undefined;
    const fs = await mount(image);
    try {
      for (const p of paths) {
        const inode = await fs.lookup(p);
        if (inode.datalayout !== DATALAYOUT.COMPRESSED_FULL && inode.datalayout !== DATALAYOUT.COMPRESSED_COMPACT) continue;
        const z = await loadZInfo(inode, fs.superblock, async (o, l) => bytes.subarray(o, o + l));
        if (!z.wholeFragment) continue;
        if (z.fragmentOffset >= next.logical && z.fragmentOffset < next.logical + next.length) inNext.push(p);
        if (z.fragmentOffset + inode.size === at) before = p;
      }
    } finally {
      await fs.unmount();
    }
    expect(inNext.length).toBeGreaterThan(0);
    // Each on a fresh mount: the file, then those past it.
    const theirs = kernelAnswers(damaged, [path, ...inNext]);
    expect(theirs[0]).toBe(kernelAnswers(image, [path])[0]);
    expect(theirs.some((line) => line.endsWith(" EUCLEAN"))).toBe(true);
    expect(await ourAnswers(damaged, [path, ...inNext])).toEqual(theirs);
    // After the fragment before it (whose read leaves the page they share cached, and with
    // it the next page, which the kernel's read gathers): the file reads too.
    expect(Math.floor((at - 1) / 4096)).toBe(Math.floor(at / 4096));
    const inOrder = kernelAnswersInOrder(damaged, [before!, path]);
    expect(inOrder[1]).toBe(theirs[0]);
    expect(await ourAnswersInOrder(damaged, [before!, path])).toEqual(inOrder);
  });
  it("corpus/real/app-a-lzma cut 4,287 bytes short, inside its packed inode's index (real mutant 531385): an LZMA extent that the cut index maps short of its stream fails decoded to that exact size, as on a kernel mount, whose XZ decoder wants a stream to end there; so does the fragment over it, read alone or after the one before", async () => {
    const { image, damaged } = cutImage("real/app-a-lzma.erofs", 4287);
    const before = Buffer.from("typescript/lib/ja/diagnosticMessages.generated.json");
    const file = Buffer.from("typescript/lib/ko/diagnosticMessages.generated.json");
    // The file's fragment runs from one LZMA extent of the packed inode into the next.
    // Mapped to its end (from a page after its head: READMORE), that one ends at an
    // lcluster the cut zeroed, a head of its own, short of where the sound index ends it.
    const at = await packedFragmentOffset(damaged, file);
    const { extent: holder } = await packedExtent(damaged, loopDeviceView(readFileSync(damaged)), () => at);
    const next = holder.logical + holder.length;
    const size = await withMount(damaged, async (fs) => (await fs.lookup(file)).size);
    expect(next).toBeLessThan(at + size);
    const afterHead = Math.ceil(next / 4096) * 4096;
    const { extent: cut } = await packedExtent(damaged, loopDeviceView(readFileSync(damaged)), () => afterHead, "page");
    const { extent: sound } = await packedExtent(image, readFileSync(image), () => afterHead, "page");
    expect([cut.algorithm, cut.logical, sound.logical, sound.physical]).toEqual([COMPRESSION.LZMA, next, next, cut.physical]);
    expect(cut.length).toBeLessThan(sound.length);

    const after = kernelAnswersInOrder(damaged, [before, file]);
    expect(after).toEqual([kernelAnswers(image, [before])[0], `${file} EUCLEAN`]);
    expect(await ourAnswersInOrder(damaged, [before, file])).toEqual(after);
    expect(await ourAnswers(damaged, [file])).toEqual(kernelAnswers(damaged, [file]));
  });

  it("corpus/real/app-a-lzma cut 10,815 bytes short, inside its packed inode's index (real mutant 532508): a fragment whose LZMA extent the cut index maps further than its stream reaches fails read first, and reads after a fragment in that extent's last page, as on a kernel mount, whose read_folio then decodes the extent only up to the pages it still has to read", async () => {
    const { image, damaged } = cutImage("real/app-a-lzma.erofs", 10815);
    const file = Buffer.from("js-yaml/lib/type.js");
    const inLastPage = Buffer.from("js-yaml/lib/type/str.js");
    // The file's fragment lies in an LZMA extent of the packed inode whose last page (on
    // the cut image) holds the other file's fragment.
    const at = await packedFragmentOffset(damaged, file);
    const { extent } = await packedExtent(damaged, loopDeviceView(readFileSync(damaged)), () => at);
    expect(extent.algorithm).toBe(COMPRESSION.LZMA);
    const otherAt = await packedFragmentOffset(damaged, inLastPage);
    expect(Math.floor(otherAt / 4096)).toBe(Math.floor((extent.logical + extent.length - 1) / 4096));

    const alone = kernelAnswers(damaged, [file]);
    expect(alone).toEqual([`${file} EUCLEAN`]);
    expect(await ourAnswers(damaged, [file])).toEqual(alone);
    const after = kernelAnswersInOrder(damaged, [inLastPage, file]);
    expect(after[1]).toBe(kernelAnswers(image, [file])[0]);
    expect(await ourAnswersInOrder(damaged, [inLastPage, file])).toEqual(after);
  });

  it("corpus/real/app-a-zstd cut 6,907 bytes short, inside its packed inode's index (real mutant 533086): pages that the cut index maps on their own to stored blocks, but that a read of the Zstandard extent before them gathers, read as on a kernel mount in either order, whatever an earlier fragment's fill ahead cached", async () => {
    const { image, damaged } = cutImage("real/app-a-zstd.erofs", 6907);
    const earlier = Buffer.from("lodash/find.js");
    const inside = Buffer.from("lodash/fp/F.js");
    const file = Buffer.from("lodash/split.js");
    const view = loopDeviceView(readFileSync(damaged));
    const at = await packedFragmentOffset(damaged, file);
    const secondPage = (Math.floor(at / 4096) + 1) * 4096;
    // From the file's first page, the extent is Zstandard and mapped to its end (READMORE),
    // past its second page and past the page of `inside`'s fragment.
    const { extent: fromFirstPage } = await packedExtent(damaged, view, () => at, "page");
    const insidePage = Math.floor((await packedFragmentOffset(damaged, inside)) / 4096) * 4096;
    expect(fromFirstPage.algorithm).toBe(COMPRESSION.ZSTD);
    expect(insidePage).toBeGreaterThan(secondPage);
    expect(fromFirstPage.logical + fromFirstPage.length).toBeGreaterThan(insidePage + 4096);
    // Mapped on their own, both pages lie in other pclusters, where the sound image's index
    // has that extent.
    for (const page of [secondPage, insidePage]) {
      const { extent: alone } = await packedExtent(damaged, view, () => page, "page");
      expect(alone.physical, `page at ${page}`).not.toBe(fromFirstPage.physical);
      const { extent: sound } = await packedExtent(image, readFileSync(image), () => page, "page");
      expect(sound.physical, `page at ${page}`).toBe(fromFirstPage.physical);
    }
    // The earlier file's fragment lies before the extent, near enough that the vfs's fill
    // ahead of it (128 pages) reaches both pages.
    const earlierAt = await packedFragmentOffset(damaged, earlier);
    expect(earlierAt).toBeLessThan(fromFirstPage.logical);
    expect(insidePage - earlierAt).toBeLessThan(100 * 4096);

    // Read first, `inside`'s page reads its stored block; read after the file's first
    // page, the file's second page comes from the Zstandard extent.
    const inOrder = kernelAnswersInOrder(damaged, [earlier, inside, file]);
    const sound = kernelAnswers(image, [earlier, inside, file]);
    expect([inOrder[0], inOrder[2]]).toEqual([sound[0], sound[2]]);
    expect(inOrder[1]).not.toBe(sound[1]);
    expect(await ourAnswersInOrder(damaged, [earlier, inside, file])).toEqual(inOrder);
    const fileFirst = kernelAnswersInOrder(damaged, [earlier, file, inside]);
    expect(fileFirst).toEqual(kernelAnswers(image, [earlier, file, inside]));
    expect(await ourAnswersInOrder(damaged, [earlier, file, inside])).toEqual(fileFirst);
  });

  it("corpus/real/app-a-lzma with an LZMA pcluster of its packed inode damaged, whose extent starts inside a page: a fragment that lies in that page before it reads, as on a kernel mount, which maps the extent for that page no further than the page and decodes a prefix of it; fragments in the damaged extent fail on both", async () => {
    const image = join(corpus!, "real/app-a-lzma.erofs");
    const bytes = readFileSync(image);
    const path = Buffer.from("globals/readme.md");
    const { at, holderEnd, next, paths } = await fragmentAndNextExtent(image, bytes, path);
    // The file's bytes lie in one page, before the next extent (LZMA, a block or more),
    // which starts inside that page: the page's read_folio maps it from its own lcluster.
    const page = Math.floor(at / 4096);
    const size = (await withMount(image, async (fs) => (await fs.lookup(path)).size));
    expect([next.algorithm, next.logical]).toEqual([COMPRESSION.LZMA, holderEnd]);
    expect(next.length).toBeGreaterThan(4096);
    expect([Math.floor((at + size - 1) / 4096), Math.floor(next.logical / 4096)]).toEqual([page, page]);
    expect(at + size).toBeLessThanOrEqual(next.logical);
    // Bytes flipped in the middle of the next pcluster's stream: a whole decode fails.
    const damagedBytes = Buffer.from(bytes);
    const flip = next.physical + (next.physicalLength >> 1);
    for (let i = 0; i < 16; i++) damagedBytes[flip + i] = damagedBytes[flip + i]! ^ 0x5a;
    const damaged = join(work.path, "app-a-lzma-mid-page.erofs");
    writeFileSync(damaged, damagedBytes);
    const inNext = (await fragmentsIn(image, bytes, paths, next)).filter((p) => !p.equals(path));
    expect(inNext.length).toBeGreaterThan(0);
    const theirs = kernelAnswers(damaged, [path, ...inNext]);
    expect(theirs[0]).toBe(kernelAnswers(image, [path])[0]);
    expect(theirs.some((line) => line.endsWith(" EUCLEAN"))).toBe(true);
    expect(await ourAnswers(damaged, [path, ...inNext])).toEqual(theirs);
  });
});

/** A corpus image and a copy of it cut `short` bytes short, in the work directory. */
function cutImage(name: string, short: number): { image: string; damaged: string } {
  const image = join(corpus!, name);
  const bytes = readFileSync(image);
  const damaged = join(work.path, `cut-${short}-${name.replace(/\W/g, "-")}`);
  writeFileSync(damaged, bytes.subarray(0, bytes.length - short));
  return { image, damaged };
}

/** A mounted image's answer to `use`, unmounted after. */
async function withMount<T>(image: string, use: (fs: Awaited<ReturnType<typeof mount>>) => Promise<T>): Promise<T> {
  const fs = await mount(image);
  try {
    return await use(fs);
  } finally {
    await fs.unmount();
  }
}

/** The whole-fragment files among `paths` whose fragments start inside `ext` of the packed inode. */
async function fragmentsIn(image: string, bytes: Buffer, paths: Buffer[], ext: ZExtent): Promise<Buffer[]> {
  return withMount(image, async (fs) => {
    const found: Buffer[] = [];
    for (const p of paths) {
      const inode = await fs.lookup(p);
      if (inode.datalayout !== DATALAYOUT.COMPRESSED_FULL && inode.datalayout !== DATALAYOUT.COMPRESSED_COMPACT) continue;
      const z = await loadZInfo(inode, fs.superblock, async (o, l) => bytes.subarray(o, o + l));
      if (z.wholeFragment && z.fragmentOffset >= ext.logical && z.fragmentOffset < ext.logical + ext.length) found.push(p);
    }
    return found;
  });
}

/** Where a whole-fragment file's bytes start in the packed inode, the packed extent holding them, and the extent after it. */
async function fragmentAndNextExtent(image: string, bytes: Buffer, path: Buffer) {
  const at = await packedFragmentOffset(image, path);
  const { extent: holder } = await packedExtent(image, bytes, () => at);
  const holderEnd = holder.logical + holder.length;
  const { extent: next, paths } = await packedExtent(image, bytes, () => holderEnd);
  return { at, holder, holderEnd, next, paths };
}

/** Where a whole-fragment file's bytes start in the packed inode. */
async function packedFragmentOffset(image: string, path: Buffer): Promise<number> {
  const bytes = readFileSync(image);
  const fs = await mount(image);
  try {
    return (await loadZInfo(await fs.lookup(path), fs.superblock, async (o, l) => bytes.subarray(o, o + l))).fragmentOffset;
  } finally {
    await fs.unmount();
  }
}

describe("a packed inode nid on an image without fragments", () => {
  it("is not looked at, whatever it holds (the metabox bit too): the image reads as before, as on a kernel mount", async () => {
    const original = join(repoRoot(), "fixtures/demo.erofs");
    const bytes = Buffer.from(readFileSync(original));
    // packed_nid: 64 bits at byte 96 of the superblock.
    bytes.writeBigUInt64LE(0xffff_ffff_ffff_fff2n, EROFS_SUPER_OFFSET + 96);
    const patched = join(work.path, "demo-packed-nid.erofs");
    writeFileSync(patched, resealSuperblock(bytes));
    const fs = await mount(original);
    const paths = await filePaths(fs, await fs.root());
    await fs.unmount();
    const answers = await ourAnswers(patched, paths);
    expect(answers).toEqual(await ourAnswers(original, paths));
    if (process.getuid?.() === 0) expect(answers).toEqual(kernelAnswers(patched, paths));
  });
});

/** fixtures/bit48-extents-lz4hc (fragments in an LZ4HC packed inode): its bytes, packed inode and files. */
async function lz4hcFixture() {
  const original = join(repoRoot(), "fixtures/bit48-extents-lz4hc.erofs");
  const fs = await mount(original);
  try {
    return { original, bytes: readFileSync(original), packed: await fs.iget(fs.superblock.packedNid), paths: await filePaths(fs, await fs.root()) };
  } finally {
    await fs.unmount();
  }
}

describe.skipIf(process.getuid?.() !== 0)("a packed inode whose i_size ends inside a page", () => {
  it("fixtures/bit48-extents-lz4hc with the packed inode's i_size cut to 146 bytes (synthetic mutant 524313): a fragment past byte 146 of its page 0 fails with that page, whose map of the bytes below the size fails, as on a kernel mount, where it read as zeros", async () => {
    const { bytes, packed, paths } = await lz4hcFixture();
    const damaged = join(work.path, "bit48-extents-lz4hc-packed-146.erofs");
    writeFileSync(damaged, withSize(bytes, packed, 146));

    // Premises: small.txt's fragment starts past byte 146 of the packed inode but in its
    // page 0, and the cut inode's map of byte 145 fails.
    const small = Buffer.from("small.txt");
    const fragmentAt = await packedFragmentOffset(damaged, small);
    expect(fragmentAt).toBeGreaterThanOrEqual(146);
    expect(fragmentAt).toBeLessThan(4096);
    const cut = await mount(damaged);
    const cutPacked = await cut.iget(cut.superblock.packedNid);
    const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
    await expect(mapCompressed(cutPacked, cut.superblock, await loadZInfo(cutPacked, cut.superblock, read), 145, read)).rejects.toSatisfy((e) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    await cut.unmount();

    const kernel = kernelAnswersInOrder(damaged, paths);
    expect(kernel.find((a) => a.startsWith("small.txt "))).toBe("small.txt EUCLEAN");
    expect(await ourAnswersInOrder(damaged, paths)).toEqual(kernel);
  });
});

/** The image with its packed inode's map header made "the whole file is a fragment at `offset`". */
function packedAsOwnFragment(bytes: Buffer, packed: Inode, offset: bigint): Buffer {
  const damaged = Buffer.from(bytes);
  // The header's top bit marks a whole-file fragment; its other 63 bits are the offset.
  damaged.writeBigUInt64LE((1n << 63n) | offset, headerOffset(packed));
  return resealSuperblock(damaged);
}

/** "path sha256" of `size` zero bytes, as the answer helpers give it. */
function zerosAnswer(path: Buffer, size: number): string {
  return `${path.toString("latin1")} ${sha256Hex([new Uint8Array(size)])}`;
}

describe.skipIf(process.getuid?.() !== 0)("a packed inode whose map header makes it a fragment of itself", () => {
  it("fixtures/bit48-extents-lz4hc with the packed inode's header a whole-file fragment past its last page: every byte it holds reads as zeros, as on a kernel mount, so every fragment reads as zeros", async () => {
    const { original, bytes, packed, paths } = await lz4hcFixture();
    const pastLastPage = Math.ceil(packed.size / 4096) * 4096;
    const damaged = join(work.path, "bit48-extents-lz4hc-packed-self.erofs");
    writeFileSync(damaged, packedAsOwnFragment(bytes, packed, BigInt(pastLastPage)));

    const kernel = kernelAnswersInOrder(damaged, paths);
    expect(await ourAnswersInOrder(damaged, paths)).toEqual(kernel);
    // small.txt lies wholly in the packed inode: zeros now, and not zeros before.
    const small = Buffer.from("small.txt");
    const fs = await mount(original);
    const smallSize = (await fs.lookup(small)).size;
    await fs.unmount();
    expect(kernel).toContain(zerosAnswer(small, smallSize));
    expect(kernelAnswersInOrder(original, [small])).not.toContain(zerosAnswer(small, smallSize));
  });

  it("a packed inode made a fragment of itself starting inside it is refused (the kernel's read would chain from page to page of that inode, or wait on the page it reads): not compared with a kernel mount", async () => {
    const { bytes, packed } = await lz4hcFixture();
    const damaged = join(work.path, "bit48-extents-lz4hc-packed-self-inside.erofs");
    writeFileSync(damaged, packedAsOwnFragment(bytes, packed, 0n));
    const fs = await mount(damaged);
    try {
      await expect(fs.read(await fs.lookup("small.txt"), 0, 1)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    } finally {
      await fs.unmount();
    }
  });

  it.skipIf(!corpus)("corpus/real/app-a-zstd with the packed inode's i_xattr_icount 0 -> 0x800 (real mutant 535540): its map header is read 8,200 bytes on, a whole-file fragment near 2^63, and the files in it read as zeros, as on a kernel mount", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const fs = await mount(image);
    const packed = await fs.iget(fs.superblock.packedNid);
    await fs.unmount();
    expect(packed.xattrIcount).toBe(0);
    // i_xattr_icount: 16 bits at byte 2 of either inode form.
    bytes.writeUInt16LE(0x800, inodeAt(packed) + 2);
    const damaged = join(work.path, "app-a-zstd-packed-xattrs.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));
    const paths = [".package-lock.json", "@esbuild/linux-x64/README.md", "esquery/license.txt"].map((p) => Buffer.from(p));
    const damagedFs = await mount(damaged);
    const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
    const z = await loadZInfo(await damagedFs.iget(packed.nid), damagedFs.superblock, read);
    const lockSize = (await damagedFs.lookup(paths[0]!)).size;
    await damagedFs.unmount();
    expect(z.wholeFragment).toBe(true);
    expect(z.fragmentOffset).toBeGreaterThan(packed.size);

    const kernel = kernelAnswersInOrder(damaged, paths);
    expect(await ourAnswersInOrder(damaged, paths)).toEqual(kernel);
    expect(kernel[0]).toBe(zerosAnswer(paths[0]!, lockSize));
  });
});
