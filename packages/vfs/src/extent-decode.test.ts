import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMPRESSION, DATALAYOUT, loadZInfo, mapCompressed, parseSuperblock } from "@erofs-ts/format";
import { createDecompressor } from "@erofs-ts/decompress";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { compressedFile, filePaths, kernelAnswers, kernelRead, ourAnswers, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";

/**
 * How the kernel decodes an extent, as seen on damaged images. It decodes a pcluster
 * whole, checking where its stream ends, only for an extent whose end it sees fully
 * mapped: the next head inside the same lcluster. An extent that ends at the end of the
 * file is decoded as a prefix, so a file cut short by its i_size reads as the first bytes
 * of its content; a whole decode would find the stream longer than the extent and fail.
 * And a stored (uncompressed) pcluster asked to give more than it holds is refused as
 * unsupported, EOPNOTSUPP, not as corruption.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-extent-decode-");
afterAll(work.remove);

describe.skipIf(!corpus || process.getuid?.() !== 0)("extents decoded as a prefix, as the kernel decodes them", () => {
  it("corpus/lz4-legacy with a large compressed file's i_size cut to 1, 4097 and 70000 bytes: it reads as a kernel mount reads it", async () => {
    // Full (legacy) indexes: where compact ones sit depends on i_size, so a cut would
    // garble the index too.
    const image = join(corpus!, "lz4-legacy.erofs");
    const fs = await mount(image);
    const paths = await filePaths(fs, await fs.root());
    let victim;
    for (const path of paths) {
      const inode = await fs.lookup(path);
      if (inode.datalayout === DATALAYOUT.COMPRESSED_FULL && inode.size > 200_000) victim = inode;
    }
    await fs.unmount();
    expect(victim).toBeDefined();
    const bytes = readFileSync(image);
    for (const size of [1, 4097, 70000]) {
      const damaged = join(work.path, `cut-${size}.erofs`);
      writeFileSync(damaged, withSize(bytes, victim!, size));
      const theirs = kernelAnswers(damaged, paths);
      expect(await ourAnswers(damaged, paths), `i_size ${size}`).toEqual(theirs);
      expect(theirs.filter((line) => !/ [0-9a-f]{64}$/.test(line)), `i_size ${size}`).toEqual([]);
    }
  });
});

describe.skipIf(!corpus || process.getuid?.() !== 0)("an extent ending at a head at the end of the file", () => {
  it("corpus/lz4 sizes/text_65537 (one pcluster; lcluster 16 heads its last byte) with its stream made to decode longer: the last page, which maps the extent whole, fails; the pages before it read as prefixes; each page as on a kernel mount", async () => {
    const image = join(corpus!, "lz4.erofs");
    const bytes = readFileSync(image);
    const fs = await mount(image);
    const file = await fs.lookup("sizes/text_65537");
    await fs.unmount();
    const read = async (o: number, l: number) => bytes.subarray(o, o + l);
    const z = await loadZInfo(file, parseSuperblock(bytes), read);
    const ext = await mapCompressed(file, parseSuperblock(bytes), z, 0, read);
    expect([ext.logical, ext.length, ext.fullMapped]).toEqual([0, file.size, true]);
    // The stream's first token (after the zero padding): match length 4 made 18, so every
    // byte after that match moves on 14 and the stream decodes past the file's end.
    let token = ext.physical;
    while (bytes[token] === 0) token++;
    expect(bytes[token]! & 15).toBe(0);
    const damagedBytes = Buffer.from(bytes);
    damagedBytes[token] = damagedBytes[token]! | 14;
    const damaged = join(work.path, "lz4-longer-stream.erofs");
    writeFileSync(damaged, damagedBytes);

    const pages = [0, 15, 16];
    const ours: string[] = [];
    const theirs: string[] = [];
    for (const page of pages) {
      const one = await mount(damaged);
      try {
        ours.push(sha256Hex([await one.read(await one.lookup("sizes/text_65537"), page * 4096, 4096)]));
      } catch (e) {
        if (!ErofsError.isInstance(e)) throw e;
        ours.push(e.code);
      } finally {
        await one.unmount();
      }
      const k = KernelMount.tryMount(damaged)!;
      try {
        theirs.push(kernelRead(join(k.dir, "sizes/text_65537"), page * 4096, 4096));
      } finally {
        k.unmount();
      }
    }
    expect(ours).toEqual(theirs);
    expect(ours[2]).toBe("EFSCORRUPTED");
    expect(ours.slice(0, 2).every((answer) => /^[0-9a-f]{64}$/.test(answer))).toBe(true);
  });
});

describe.skipIf(!corpus || process.getuid?.() !== 0)("a stored pcluster shorter than its extent", () => {
  it("corpus/metacompress with its metabox inode's i_size grown a block: the inodes past the stored tail fail EOPNOTSUPP, as on a kernel mount", async () => {
    const image = join(corpus!, "metacompress.erofs");
    const fs = await mount(image);
    const paths = await filePaths(fs, await fs.root());
    const metabox = await fs.iget(fs.superblock.metaboxNid);
    await fs.unmount();
    const damaged = join(work.path, "metabox-grown.erofs");
    writeFileSync(damaged, withSize(readFileSync(image), metabox, metabox.size + 4096));

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EOPNOTSUPP")).length).toBeGreaterThan(0);
  });
});

/**
 * An LZMA extent decoded to a size known to be exact (its map reaches its end): the
 * kernel's decoder, XZ's MicroLZMA in its pedantic mode, also wants the stream to end
 * there, every byte taken and the range coder finished. A decode asked for less is
 * refused, as a prefix it reads.
 */
describe.skipIf(!corpus)("an LZMA extent decoded to an exact size", () => {
  it("corpus/real/app-a-lzma, the first extent of @esbuild/linux-x64/bin/esbuild: whole, it is the file's bytes in app-a-plain; one byte short it is refused, and read as a prefix", async () => {
    const path = "@esbuild/linux-x64/bin/esbuild";
    const bytes = readFileSync(join(corpus!, "real/app-a-lzma.erofs"));
    const { sb, map } = await compressedFile(bytes, path);
    const ext = await map(0);
    expect([ext.kind, ext.algorithm, ext.logical, ext.fullMapped]).toEqual(["encoded", COMPRESSION.LZMA, 0, true]);
    const plain = await mount(join(corpus!, "real/app-a-plain.erofs"));
    let content: Uint8Array;
    try {
      const file = await plain.lookup(path);
      content = await plain.read(file, 0, ext.length);
    } finally {
      await plain.unmount();
    }
    const lzma = createDecompressor(COMPRESSION.LZMA, { lzmaDictSize: sb.compression.lzmaDictSize, zeroPadding: true, blockSize: sb.blockSize });
    const raw = bytes.subarray(ext.physical, ext.physical + ext.physicalLength);
    const whole = new Uint8Array(ext.length);
    await lzma.decode(raw, whole, false);
    expect(sha256Hex([whole])).toBe(sha256Hex([content]));
    const short = new Uint8Array(ext.length - 1);
    await expect((async () => lzma.decode(raw, short, false))()).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    await lzma.decode(raw, short, true);
    expect(sha256Hex([short])).toBe(sha256Hex([content.subarray(0, short.length)]));
  });
});
