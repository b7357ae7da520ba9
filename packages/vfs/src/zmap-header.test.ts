import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ADVISE, DATALAYOUT, EROFS_SUPER_OFFSET, INCOMPAT, headerOffset } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { compressedFile, filePaths, inodeAt, kernelAnswers, kernelAnswersInOrder, kernelRead, ourAnswers, ourAnswersInOrder } from "./file-answers.test-helper.js";
import { ErofsError, mount, type Inode } from "./index.js";

/**
 * What a compressed inode's map header must agree with before any of its extents is
 * mapped: the kernel checks it when it first maps the inode, and fails the file's reads
 * (not the mount) when it does not.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-zmap-header-");
afterAll(work.remove);

/** feature_incompat in struct erofs_super_block. */
const FEATURE_INCOMPAT_FIELD = 80;

/** A copy of `image` (in the work directory, as `name`) without the incompat feature `bit`. */
function withoutFeature(image: string, bit: number, name: string): string {
  const bytes = Buffer.from(readFileSync(image));
  const at = EROFS_SUPER_OFFSET + FEATURE_INCOMPAT_FIELD;
  bytes.writeUInt32LE(bytes.readUInt32LE(at) & ~bit, at);
  const out = join(work.path, name);
  writeFileSync(out, resealSuperblock(bytes));
  return out;
}

/** The image's files, and the compressed ones with their map headers' advise. */
async function compressedFiles(image: string): Promise<{ paths: Buffer[]; compressed: { path: Buffer; inode: Inode; advise: number }[] }> {
  const bytes = readFileSync(image);
  const fs = await mount(image);
  try {
    const paths = await filePaths(fs, await fs.root());
    const compressed = [];
    for (const path of paths) {
      const inode = await fs.lookup(path);
      if (inode.datalayout !== DATALAYOUT.COMPRESSED_COMPACT && inode.datalayout !== DATALAYOUT.COMPRESSED_FULL) continue;
      compressed.push({ path, inode, advise: bytes.readUInt16LE(headerOffset(inode) + 4) });
    }
    return { paths, compressed };
  } finally {
    await fs.unmount();
  }
}

describe.skipIf(!corpus || process.getuid?.() !== 0)("a compressed inode's map header against the superblock, as the kernel checks it", () => {
  it("corpus/lz4hc-bigpcluster without the superblock's big-pcluster feature: its big-pcluster files fail EUCLEAN, the rest read, as on a kernel mount", async () => {
    const image = join(corpus!, "lz4hc-bigpcluster.erofs");
    const { paths, compressed } = await compressedFiles(image);
    const big = compressed.filter((f) => f.advise & (ADVISE.BIG_PCLUSTER_1 | ADVISE.BIG_PCLUSTER_2));
    expect(big.length).toBeGreaterThan(0);
    const damaged = withoutFeature(image, INCOMPAT.BIG_PCLUSTER, "no-big-pcluster.erofs");

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EUCLEAN"))).toHaveLength(big.length);
  });

  it("corpus/lz4-fragments-dedupe without the superblock's fragments feature: its fragments fail EUCLEAN (no packed inode is loaded), the rest read, as on a kernel mount", async () => {
    const image = join(corpus!, "lz4-fragments-dedupe.erofs");
    const { paths, compressed } = await compressedFiles(image);
    expect(compressed.some((f) => f.advise & ADVISE.FRAGMENT_PCLUSTER)).toBe(true);
    const damaged = withoutFeature(image, INCOMPAT.FRAGMENTS, "no-fragments.erofs");

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EUCLEAN")).length).toBeGreaterThan(0);
  });

  it("corpus/libdeflate with every advise bit set in repeats_copy.bin's map header (fuzz mutant 510342): its tail is then a fragment, but the lcluster at its end is a stored one, which the kernel's first map of the file refuses, so every page fails EUCLEAN as on a kernel mount (page 0 used to read); sparse_hole, read after it, reads whole on both", async () => {
    const image = join(corpus!, "libdeflate.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const { file } = await compressedFile(bytes, "repeats_copy.bin");
    expect(file.datalayout).toBe(DATALAYOUT.COMPRESSED_COMPACT);
    expect(bytes.readUInt16LE(headerOffset(file) + 4) & ADVISE.FRAGMENT_PCLUSTER).toBe(0);
    bytes.writeUInt16LE(0xfffe, headerOffset(file) + 4);
    const damaged = join(work.path, "libdeflate-all-advise.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const order = [Buffer.from("repeats_copy.bin"), Buffer.from("sparse_hole")];
    const theirs = kernelAnswersInOrder(damaged, order);
    expect(theirs[0]).toBe("repeats_copy.bin EUCLEAN");
    expect(theirs[1]).not.toMatch(/ E[A-Z]+$/);
    expect(await ourAnswersInOrder(damaged, order)).toEqual(theirs);
    const k = KernelMount.tryMount(damaged)!;
    try {
      expect(kernelRead(join(k.dir, "repeats_copy.bin"), 0, 4096)).toBe("EFSCORRUPTED");
    } finally {
      k.unmount();
    }
    const ours = await mount(damaged);
    try {
      await expect(ours.read(await ours.lookup("repeats_copy.bin"), 0, 4096)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    } finally {
      await ours.unmount();
    }
  });

  it("corpus/bit48-lz4 with an unknown HEAD1 algorithm (15) in sizes/text_300007's map header (fuzz mutant 522184): its tail is inline, so the kernel's first map of it fails, EOPNOTSUPP (unknown, not corrupt), as every read here", async () => {
    const image = join(corpus!, "bit48-lz4.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const { file } = await compressedFile(bytes, "sizes/text_300007");
    expect(bytes.readUInt16LE(headerOffset(file) + 4) & ADVISE.INLINE_PCLUSTER).toBeTruthy();
    bytes[headerOffset(file) + 6] = 0xff;
    const damaged = join(work.path, "unknown-head1-inline.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const path = [Buffer.from("sizes/text_300007")];
    const theirs = kernelAnswers(damaged, path);
    expect(theirs).toEqual(["sizes/text_300007 EOPNOTSUPP"]);
    expect(await ourAnswers(damaged, path)).toEqual(theirs);
  });

  it("a whole-file fragment's map header turned into an ordinary one (corpus/real/app-a-lzma, js-yaml/lib/schema.js; fuzz mutant 530359): with 4 KiB lclusters the file is its zeroed index's stored block 0 and reads so; with 8 KiB ones that one block is shorter than the lcluster, and the kernel fails it EUCLEAN although the 3,257-byte file would fit: as here", async () => {
    const image = join(corpus!, "real/app-a-lzma.erofs");
    const path = "js-yaml/lib/schema.js";
    const pristine = Buffer.from(readFileSync(image));
    const { file } = await compressedFile(pristine, path);
    const bits = headerOffset(file) + 7;
    // h_clusterbits with the whole-fragment bit; the index after the header is zeros (PLAIN at block 0).
    expect(pristine[bits]).toBe(0x80);
    expect(file.size).toBeLessThan(4096);
    const answers: string[] = [];
    for (const clusterBits of [0x00, 0x01]) {
      const bytes = Buffer.from(pristine);
      bytes[bits] = clusterBits;
      const damaged = join(work.path, `fragment-bit-cleared-${clusterBits}.erofs`);
      writeFileSync(damaged, bytes);
      const theirs = kernelAnswers(damaged, [Buffer.from(path)]);
      expect(await ourAnswers(damaged, [Buffer.from(path)])).toEqual(theirs);
      answers.push(...theirs);
    }
    const blockZero = createHash("sha256").update(pristine.subarray(0, file.size)).digest("hex");
    expect(answers[0]).toBe(`${path} ${blockZero}`);
    expect(answers[1]).toBe(`${path} EUCLEAN`);
  });

  it("an unknown HEAD2 algorithm in one file's map header, which none of its extents uses: the file reads, as on a kernel mount (kernel 6.18 checks algorithms per extent only)", async () => {
    const image = join(corpus!, "lz4hc-bigpcluster.erofs");
    const { paths, compressed } = await compressedFiles(image);
    const victim = compressed.find((f) => f.inode.size > 65536)!;
    const bytes = Buffer.from(readFileSync(image));
    const algorithms = headerOffset(victim.inode) + 6;
    expect(bytes[algorithms]! >> 4).toBe(0);
    bytes[algorithms] = bytes[algorithms]! | 0xf0;
    const damaged = join(work.path, "unknown-head2.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    // The file's content, as the kernel reads it from the untouched image.
    expect(theirs).toContain(kernelAnswers(image, [victim.path])[0]);
  });

  it("corpus/real/app-a-zstd with a bit flipped in acorn/dist/acorn.mjs's compact lcluster index (real mutant 531480), which makes the head of its fragment tail a HEAD2 lcluster, whose algorithm (LZ4) the superblock does not enable: the file reads whole, as on a kernel mount, which checks an algorithm per map of a pcluster and a fragment has none (it used to fail EUCLEAN at the file's first map)", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const path = "acorn/dist/acorn.mjs";
    const bytes = Buffer.from(readFileSync(image));
    const { sb, file, z } = await compressedFile(bytes, path);
    expect(z.advise & ADVISE.FRAGMENT_PCLUSTER).toBeTruthy();
    expect(sb.compression.availableAlgorithms & (1 << z.algorithms[1])).toBe(0);
    // Word 27 of the compact index after the 8-byte map header, bit 21 (0x17ff80 -> 0x37ff80).
    const word = headerOffset(file) + 8 + 27 * 4;
    expect(bytes.readUInt32LE(word)).toBe(0x17ff80);
    bytes.writeUInt32LE(0x37ff80, word);
    const damaged = join(work.path, "fragment-tail-head2.erofs");
    writeFileSync(damaged, bytes);

    const theirs = kernelAnswers(damaged, [Buffer.from(path)]);
    expect(theirs).toEqual(kernelAnswers(image, [Buffer.from(path)]));
    expect(await ourAnswers(damaged, [Buffer.from(path)])).toEqual(theirs);
  });

  it("a 48-bit extent count (2^46 and more) in a full-layout header with 16- or 32-byte records: searched as the kernel searches it, its records past the image read as zeros, so the file reads as a hole or as its fragment at 0, as on a kernel mount", async () => {
    const image = join(corpus!, "lzma-big.erofs");
    const { compressed } = await compressedFiles(image);
    const victim = compressed.find((f) => f.inode.datalayout === DATALAYOUT.COMPRESSED_FULL && f.inode.size > 65536)!;
    expect(victim).toBeDefined();
    const answers: string[] = [];
    // h_extents_lo (32 bits), h_advise, h_extents_hi (16 bits; its top bit would mean a whole-file fragment).
    for (const [advise, hi] of [
      [ADVISE.EXTENTS | 0x4, 0x4000], // 16-byte records
      [ADVISE.EXTENTS | 0x6, 0x7fff], // 32-byte records
      [ADVISE.EXTENTS | 0x6 | ADVISE.FRAGMENT_PCLUSTER, 0x4cd4], // the last extent in the packed inode
    ] as const) {
      const bytes = Buffer.from(readFileSync(image));
      const at = headerOffset(victim.inode);
      bytes.writeUInt32LE(0xd0ecdd33, at);
      bytes.writeUInt16LE(advise, at + 4);
      bytes.writeUInt16LE(hi, at + 6);
      const damaged = join(work.path, `extent-count-${advise}.erofs`);
      writeFileSync(damaged, resealSuperblock(bytes));
      const ours = await ourAnswers(damaged, [victim.path]);
      expect(ours).toEqual(kernelAnswers(damaged, [victim.path]));
      answers.push(ours[0]!);
    }
    const shown = victim.path.toString("latin1");
    const zeros = createHash("sha256").update(Buffer.alloc(victim.inode.size)).digest("hex");
    expect(answers.slice(0, 2)).toEqual([`${shown} ${zeros}`, `${shown} ${zeros}`]);
    expect(answers[2]).toMatch(/ [0-9a-f]{64}$/);
    expect(answers[2]).not.toBe(answers[0]);
  });
});

describe.skipIf(!corpus || process.getuid?.() !== 0)("a map header read from far past its inode, against the kernel", () => {
  it("corpus/real/app-a-deflate with lodash/fp/toLength.js's i_xattr_icount raised to 0xfff2 (fuzz mutant 532083): its header is read 256 KiB further on: 4-byte encoded extents with a fragment and a 64-bit start past 2^53; the file reads its garbage fragment, as on a kernel mount (it failed EFSCORRUPTED here: the start does not fit 53 bits, though a fragment never uses it)", async () => {
    const image = join(corpus!, "real/app-a-deflate.erofs");
    const path = Buffer.from("lodash/fp/toLength.js");
    const original = await mount(image);
    const at = inodeAt(await original.lookup(path));
    await original.unmount();
    const bytes = Buffer.from(readFileSync(image));
    bytes.writeUInt16LE(0xfff2, at + 2);
    const damaged = join(work.path, "far-header.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    // The premise: what lies where the header is now read.
    const fs = await mount(damaged);
    const inode = await fs.lookup(path);
    await fs.unmount();
    const header = headerOffset(inode);
    expect(header - at).toBeGreaterThan(250_000);
    const advise = bytes.readUInt16LE(header + 4);
    expect(inode.datalayout).toBe(DATALAYOUT.COMPRESSED_FULL);
    expect(advise & ADVISE.EXTENTS && advise & ADVISE.FRAGMENT_PCLUSTER).toBeTruthy();

    const theirs = kernelAnswers(damaged, [path]);
    expect(theirs[0]).toMatch(/ [0-9a-f]{64}$/);
    expect(await ourAnswers(damaged, [path])).toEqual(theirs);
  });
  it("corpus/real/app-b with lodash/fp/stubTrue.js's i_xattr_icount raised from 0xc to 0xc00 (real mutant 534980): its header, read further on, gives an ordinary header with a fragment tail whose head is lcluster 0 (with its data starting at byte 3); the kernel then maps the whole file to the fragment, bytes 0-2 too, and reads it whole (garbage, the same bytes here), where an indexed map of byte 0 failed EUCLEAN", async () => {
    const image = join(corpus!, "real/app-b.erofs");
    const path = "lodash/fp/stubTrue.js";
    const original = await mount(image);
    const at = inodeAt(await original.lookup(path));
    await original.unmount();
    const bytes = Buffer.from(readFileSync(image));
    expect(bytes.readUInt16LE(at + 2)).toBe(0xc);
    bytes.writeUInt16LE(0xc00, at + 2);
    const damaged = join(work.path, "stubtrue-far-header.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    // The premise: a fragment tail headed by lcluster 0, whose data starts past byte 0.
    const { z, map } = await compressedFile(bytes, path);
    expect([z.advise & ADVISE.FRAGMENT_PCLUSTER, z.tailHeadLcn, z.wholeFragment]).toEqual([ADVISE.FRAGMENT_PCLUSTER, 0, false]);
    expect(await map(0)).toMatchObject({ kind: "fragment", logical: 0 });

    const theirs = kernelAnswers(damaged, [Buffer.from(path)]);
    expect(theirs[0]).toMatch(/ [0-9a-f]{64}$/);
    expect(await ourAnswers(damaged, [Buffer.from(path)])).toEqual(theirs);
  });
});
