import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALG_INTERLACED, COMPRESSION, headerOffset, loadZInfo, mapCompressed } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { compressedFile, kernelAnswers, kernelAnswersInOrder, kernelRead, loopDeviceView, ourAnswers, ourAnswersInOrder, withCompactIndexWord, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";
import { PclusterFormats } from "./pcluster-formats.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-pcluster-formats-");
afterAll(work.remove);

describe("PclusterFormats", () => {
  it("keeps the first format and size at an address until replaced", () => {
    const formats = new PclusterFormats();
    expect(formats.get(4096)).toBeUndefined();
    formats.keep(4096, 0, 4096);
    formats.keep(4096, 3, 40960);
    formats.keep(8192, 5, 1 << 20);
    expect([formats.get(4096), formats.get(8192), formats.get(12288)]).toEqual([{ format: 0, length: 4096 }, { format: 5, length: 1 << 20 }, undefined]);
    formats.replace(4096, 3, 40960);
    expect(formats.get(4096)).toEqual({ format: 3, length: 40960 });
  });
});

/**
 * A reader's first read(2) of a file. On a kernel mount it starts a readahead of 64 pages
 * or more (this machine's loop devices have read_ahead_kb 2560), widened to the end of the
 * extent its last page maps (READMORE).
 */
const FIRST_READ = 128 << 10;

/** corpus/real/NAME with one word of `path`'s compact index changed (withCompactIndexWord), written to a file: its path and bytes. */
async function indexWordMutant(name: string, path: Buffer, word: number, from: number, to: number): Promise<[string, Buffer]> {
  const bytes = await withCompactIndexWord(readFileSync(join(corpus!, `real/${name}.erofs`)), path.toString(), word, from, to);
  const file = join(work.path, `${name}-word-${word}.erofs`);
  writeFileSync(file, bytes);
  return [file, bytes];
}

/**
 * `first` then `second` read on one mount fail both, and `second` read alone does not,
 * on a kernel mount (a pcluster kept by the failed read of `first`); the vfs answers the
 * same in both cases.
 */
async function expectFailsAfter(damaged: string, first: Buffer, second: Buffer): Promise<void> {
  const inOrder = kernelAnswersInOrder(damaged, [first, second]);
  expect(inOrder).toEqual([`${first} EUCLEAN`, `${second} EUCLEAN`]);
  expect(await ourAnswersInOrder(damaged, [first, second])).toEqual(inOrder);
  const alone = kernelAnswers(damaged, [second]);
  expect(alone[0]).not.toMatch(/EUCLEAN$/);
  expect(await ourAnswers(damaged, [second])).toEqual(alone);
}

/** A file read whole on a kernel mount, on through short reads: the sha256 of its bytes, or EOPNOTSUPP (errno 95). */
function kernelWhole(path: string): string {
  try {
    return sha256Hex([readFileSync(path)]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.errno === -95 ? "EOPNOTSUPP" : String(err.code);
  }
}

const isEfscorrupted = (e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED";
const isEopnotsupp = (e: unknown) => ErofsError.isInstance(e) && e.code === "EOPNOTSUPP";

describe.skipIf(!corpus || process.getuid?.() !== 0)("pclusters kept in the format a damaged file read them in", () => {
  it("corpus/real/app-a-lz4 with nanoid/non-secure/index.js's i_size raised to 2.3 GB (fuzz mutant 530327): after a read of it, optionator/README.md fails EOPNOTSUPP, as on a kernel mount; read first, it reads whole on both", async () => {
    const bytes = readFileSync(join(corpus!, "real/app-a-lz4.erofs"));
    const [nanoidPath, readmePath] = ["nanoid/non-secure/index.js", "optionator/README.md"];
    const sound = await mount(bytes);
    const nanoid = await sound.lookup(nanoidPath);
    const readmeSize = (await sound.lookup(readmePath)).size;
    const readme = await sound.read(await sound.lookup(readmePath), 0, readmeSize);
    await sound.unmount();
    // The lcluster index past nanoid's real end is the metadata after it: read as its
    // map, it leads into other files' pclusters, README.md's among them, in other formats.
    const damaged = join(work.path, "app-a-lz4-long-nanoid.erofs");
    writeFileSync(damaged, withSize(bytes, nanoid, 0x88d4bbbd));

    const k = KernelMount.tryMount(damaged)!;
    try {
      expect(kernelRead(join(k.dir, nanoidPath), 0, FIRST_READ)).toBe("EFSCORRUPTED");
      // Its first page still reads: a read(2) of it all returns that page, the next fails.
      expect(kernelWhole(join(k.dir, readmePath))).toBe("EOPNOTSUPP");
    } finally {
      k.unmount();
    }
    const kFresh = KernelMount.tryMount(damaged)!;
    try {
      expect(kernelWhole(join(kFresh.dir, readmePath))).toBe(sha256Hex([readme]));
    } finally {
      kFresh.unmount();
    }

    const fs = await mount(damaged);
    try {
      await expect(fs.read(await fs.lookup(nanoidPath), 0, FIRST_READ)).rejects.toSatisfy(isEfscorrupted);
      await expect(fs.read(await fs.lookup(readmePath), 0, readmeSize)).rejects.toSatisfy(isEopnotsupp);
    } finally {
      await fs.unmount();
    }
    const fresh = await mount(damaged);
    try {
      expect(Buffer.from(await fresh.read(await fresh.lookup(readmePath), 0, readmeSize)).equals(Buffer.from(readme))).toBe(true);
    } finally {
      await fresh.unmount();
    }
  });

  it("corpus/real/app-a-zstd with word 54 of the packed inode's compact index set to 0x11 (real mutant 531303): a fragment read fills the packed inode ahead over that lcluster, which then maps as stored onto a Zstandard pcluster; the kernel reads only the fragment's pages, so a file whose fragment lies in that pcluster still reads whole after it, as here", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const [licensePath, laterPath] = ["@eslint/config-array/LICENSE", "@eslint/eslintrc/dist/eslintrc-universal.cjs"];
    const sound = await mount(image);
    const packed = await sound.iget(sound.superblock.packedNid);
    const want = await Promise.all([licensePath, laterPath].map(async (p) => sha256Hex([await sound.read(await sound.lookup(p), 0, 1 << 20)])));
    await sound.unmount();
    const bytes = Buffer.from(readFileSync(image));
    // The compact index follows the 8-byte map header; the superblock's checksum does not cover it.
    bytes.writeUInt32LE(0x11, headerOffset(packed) + 8 + 54 * 4);
    const damaged = join(work.path, "app-a-zstd-packed-word54.erofs");
    writeFileSync(damaged, bytes);

    const k = KernelMount.tryMount(damaged)!;
    try {
      expect([licensePath, laterPath].map((p) => kernelWhole(join(k.dir, p)))).toEqual(want);
    } finally {
      k.unmount();
    }
    const fs = await mount(damaged);
    try {
      const got = [];
      for (const p of [licensePath, laterPath]) got.push(sha256Hex([await fs.read(await fs.lookup(p), 0, 1 << 20)]));
      expect(got).toEqual(want);
    } finally {
      await fs.unmount();
    }
  });

  it("corpus/real/app-a-lz4 with lodash/_composeArgs.js's i_size raised from 1,323 to 21,168 (real mutant 533884): its first page maps a 1-block pcluster where lodash/core.js's 10-block one starts, and core.js read after it fails, as on a kernel mount, whose core.js joins the kept pcluster and decodes from its 1 block; read first, core.js reads whole on both", async () => {
    const bytes = readFileSync(join(corpus!, "real/app-a-lz4.erofs"));
    const [grownPath, corePath] = [Buffer.from("lodash/_composeArgs.js"), Buffer.from("lodash/core.js")];
    const sound = await mount(bytes);
    const grown = await sound.lookup(grownPath);
    const core = await sound.lookup(corePath);
    await sound.unmount();
    expect(grown.size).toBe(1323);
    const damaged = join(work.path, "app-a-lz4-grown-compose-args.erofs");
    writeFileSync(damaged, withSize(bytes, grown, 21168));

    // Premise: the two first extents start at one address, with other pcluster sizes.
    const fs = await mount(damaged);
    const read = async (o: number, l: number) => readFileSync(damaged).subarray(o, o + l);
    const firstExtent = async (path: Buffer) => {
      const inode = await fs.lookup(path);
      return mapCompressed(inode, fs.superblock, await loadZInfo(inode, fs.superblock, read), 0, read);
    };
    const [a, b] = [await firstExtent(grownPath), await firstExtent(corePath)];
    await fs.unmount();
    expect(a.physical).toBe(b.physical);
    expect([a.physicalLength, b.physicalLength]).toEqual([4096, 40960]);
    expect(b.length).toBeGreaterThan(b.physicalLength);

    const after = kernelAnswersInOrder(damaged, [grownPath, corePath]);
    expect(after[1]).toBe(`${corePath} EUCLEAN`);
    expect(await ourAnswersInOrder(damaged, [grownPath, corePath])).toEqual(after);
    const alone = kernelAnswers(damaged, [corePath]);
    expect(alone).toEqual(kernelAnswers(join(corpus!, "real/app-a-lz4.erofs"), [corePath]));
    expect(await ourAnswers(damaged, [corePath])).toEqual(alone);
    expect(core.size).toBeGreaterThan(4096);
  });

  it("corpus/real/app-a-zstd with word 50 of typescript/lib/ko/diagnosticMessages.generated.json's compact index changed (real mutant 533796): the read that gathers a Zstandard extent's pages scans a stored extent on that pcluster first, so the file fails EOPNOTSUPP, as on a kernel mount, and so does a file read after it that shares no page with it", async () => {
    const image = join(corpus!, "real/app-a-zstd.erofs");
    const bytes = readFileSync(image);
    const koName = "typescript/lib/ko/diagnosticMessages.generated.json";
    const [koPath, plPath] = [Buffer.from(koName), Buffer.from("typescript/lib/pl/diagnosticMessages.generated.json")];
    const damagedBytes = await withCompactIndexWord(bytes, koName, 50, 0x0fd3201c, 0x1fa64038);
    const damaged = join(work.path, "app-a-zstd-ko-word-50.erofs");
    writeFileSync(damaged, damagedBytes);

    // Premise: mapped from their pages' last bytes, page 60 lies in a Zstandard extent and
    // page 82 in a stored one, on one pcluster; the map of page 83's first half fails.
    const { map: mapOf } = await compressedFile(damagedBytes, koName);
    const [zstd, stored] = [await mapOf(61 * 4096 - 1), await mapOf(83 * 4096 - 1)];
    await expect(mapOf(83 * 4096 + 1000)).rejects.toSatisfy(isEfscorrupted);
    expect([zstd.algorithm, stored.algorithm, stored.physical]).toEqual([COMPRESSION.ZSTD, ALG_INTERLACED, zstd.physical]);
    expect(zstd.logical + zstd.length).toBeGreaterThan(83 * 4096);

    const inOrder = kernelAnswersInOrder(damaged, [koPath, plPath]);
    expect(inOrder).toEqual([`${koPath} EOPNOTSUPP`, `${plPath} EOPNOTSUPP`]);
    expect(await ourAnswersInOrder(damaged, [koPath, plPath])).toEqual(inOrder);
    const plAlone = kernelAnswers(damaged, [plPath]);
    expect(plAlone).toEqual(kernelAnswers(image, [plPath]));
    expect(await ourAnswers(damaged, [plPath])).toEqual(plAlone);
  });

  it("corpus/real/app-a cut inside its packed inode's index, with a bit flipped in esbuild's second LZ4 pcluster (real mutant 536094): the failed read of esbuild keeps its first pcluster, which ends in the page where the damaged extent starts, so a packed page mapped to that address decodes esbuild's bytes, as on a kernel mount, whose read_folio of that page keeps it", async () => {
    const image = join(corpus!, "real/app-a.erofs");
    const damagedBytes = Buffer.from(readFileSync(image).subarray(0, 20_638_455));
    damagedBytes.writeUInt8(damagedBytes.readUInt8(0x2019b) ^ (1 << 5), 0x2019b);
    const damaged = join(work.path, "app-a-esbuild-packed.erofs");
    writeFileSync(damaged, damagedBytes);
    const esbuild = Buffer.from("@esbuild/linux-x64/bin/esbuild");
    const rule = Buffer.from("eslint/lib/rules/grouped-accessor-pairs.js");

    // Premises: the flipped bit is in esbuild's second extent's pcluster, which starts in
    // page 28, where its first extent ends; a packed page of the rule's fragment maps to
    // an interlaced block at the first extent's address (zeros past the loop device's end
    // in the packed inode's index).
    const { map: mapOf } = await compressedFile(damagedBytes, esbuild.toString());
    const [first, second] = [await mapOf(0), await mapOf(28 * 4096 + 4095)];
    expect(second.physical).toBeLessThanOrEqual(0x2019b);
    expect(second.physical + second.physicalLength).toBeGreaterThan(0x2019b);
    expect([Math.floor(second.logical / 4096), first.logical + first.length]).toEqual([28, second.logical]);
    const fs = await mount(damaged);
    const sb = fs.superblock;
    const [packed, ruleInode] = [await fs.iget(sb.packedNid), await fs.lookup(rule)];
    await fs.unmount();
    const device = loopDeviceView(damagedBytes);
    const read = async (offset: number, length: number) => device.subarray(offset, offset + length);
    const ruleEnd = (await loadZInfo(ruleInode, sb, read)).fragmentOffset + ruleInode.size;
    const overFirst = await mapCompressed(packed, sb, await loadZInfo(packed, sb, read), ruleEnd - 1, read);
    expect([overFirst.algorithm, overFirst.physical]).toEqual([ALG_INTERLACED, first.physical]);

    const inOrder = kernelAnswersInOrder(damaged, [esbuild, rule]);
    expect(inOrder[0]).toBe(`${esbuild} EUCLEAN`);
    expect(await ourAnswersInOrder(damaged, [esbuild, rule])).toEqual(inOrder);
    // Read alone, the rule's page is the interlaced block's bytes, on both.
    const alone = kernelAnswers(damaged, [rule]);
    expect(alone).not.toEqual(inOrder.slice(1));
    expect(await ourAnswers(damaged, [rule])).toEqual(alone);
  });

  it("corpus/real/app-a-zstd with a word of zh-cn's compact index changed (real mutant 536535): the read_folio of zh-cn's failed page 44 maps the one-block Zstandard extent heading there without FULL_MAPPED and keeps its pcluster, at the address of zh-tw's first 64 KiB one, so zh-tw read next fails at 0, as on a kernel mount", async () => {
    const cn = Buffer.from("typescript/lib/zh-cn/diagnosticMessages.generated.json");
    const tw = Buffer.from("typescript/lib/zh-tw/diagnosticMessages.generated.json");
    const [damaged, damagedBytes] = await indexWordMutant("app-a-zstd", cn, 25, 0x202e80b6, 0x50a077b5);

    // Premises: page 44 of zh-cn is the head lcluster of a one-block Zstandard extent that
    // ends past the page, at the address of zh-tw's first pcluster, 16 blocks of Zstandard.
    const own = await (await compressedFile(damagedBytes, cn.toString())).map(44 * 4096 + 4095);
    const twFirst = await (await compressedFile(damagedBytes, tw.toString())).map(0);
    expect([own.algorithm, own.physicalLength, Math.floor(own.logical / 4096)]).toEqual([COMPRESSION.ZSTD, 4096, 44]);
    expect(own.logical + own.length).toBeGreaterThan(45 * 4096);
    expect([twFirst.algorithm, twFirst.physical, twFirst.physicalLength]).toEqual([COMPRESSION.ZSTD, own.physical, 65536]);

    await expectFailsAfter(damaged, cn, tw);
  });

  it("corpus/real/app-a-lz4 with the first word of ajv.js's compact index changed (real mutant 535078): ajv.js's map below its first LZ4 extent fails, and the read_folio of that page maps the extent from the page's last byte without FULL_MAPPED and keeps its one-block pcluster, at the address of config-validator.js's two-block one, so config-validator.js read next fails at 0, as on a kernel mount", async () => {
    const ajv = Buffer.from("@eslint/eslintrc/lib/shared/ajv.js");
    const validator = Buffer.from("@eslint/eslintrc/lib/shared/config-validator.js");
    const [damaged, damagedBytes] = await indexWordMutant("app-a-lz4", ajv, 0, 0x04d11000, 0x10d1d200);

    // Premises: ajv.js's page 0 maps to a one-block LZ4 extent starting inside the page
    // and ending past it, whose bytes before it fail to map; config-validator.js's first
    // pcluster, two blocks of LZ4, is at the same address.
    const ajvFile = await compressedFile(damagedBytes, ajv.toString());
    const own = await ajvFile.map(4095);
    const validatorFirst = await (await compressedFile(damagedBytes, validator.toString())).map(0);
    expect([own.algorithm, own.physicalLength]).toEqual([COMPRESSION.LZ4, 4096]);
    expect(own.logical).toBeGreaterThan(0);
    expect(own.logical + own.length).toBeGreaterThan(4096);
    await expect(ajvFile.map(own.logical - 1)).rejects.toThrow(ErofsError);
    expect([validatorFirst.algorithm, validatorFirst.physical, validatorFirst.physicalLength]).toEqual([COMPRESSION.LZ4, own.physical, 8192]);

    await expectFailsAfter(damaged, ajv, validator);
  });
});
