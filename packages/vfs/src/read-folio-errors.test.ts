import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMPRESSION, loadZInfo, mapCompressed } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir } from "@erofs-ts/testkit";
import { kernelRead, ourRead, withSize } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * Which error a compressed page answers when its read meets two: the kernel's read_folio
 * scans the page from its end down and stops at a map that fails, but still reads and
 * decodes the pclusters it attached above that point, and their failure is what it
 * returns.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-read-folio-errors-");
afterAll(work.remove);

describe.skipIf(!corpus)("a page with a failed map below a pcluster that cannot be read", () => {
  it("corpus/real/app-a-lz4 with module-importer.cjs's i_size raised from 854 to 13,664 (real mutant 531494): its index past the real end maps page 2 as a stored extent past the image above a map that fails; pages 2 and 3 answer EIO, as on a kernel mount (page 2 failed EUCLEAN, for the map)", async () => {
    const image = join(corpus!, "real/app-a-lz4.erofs");
    const path = "@humanwhocodes/module-importer/dist/module-importer.cjs";
    let fs = await mount(image);
    const sound = await fs.lookup(path);
    await fs.unmount();
    expect(sound.size).toBe(854);
    const damaged = join(work.path, "module-importer-13664.erofs");
    writeFileSync(damaged, withSize(readFileSync(image), sound, 13664));

    const pages = [0, 4096, 8192, 12288];
    fs = await mount(damaged);
    const ours: string[] = [];
    try {
      const file = await fs.lookup(path);
      for (const at of pages) ours.push(await ourRead(fs, file, at, 4096));
    } finally {
      await fs.unmount();
    }
    expect(ours.slice(2)).toEqual(["EIO", "EIO"]);
    const k = KernelMount.tryMount(damaged);
    if (k) {
      try {
        expect(pages.map((at) => kernelRead(join(k.dir, path), at, 4096))).toEqual(ours);
      } finally {
        k.unmount();
      }
    }
  });

  it("corpus/deflate cut inside log.txt's second pcluster, which follows its first on the device (synthetic mutant 523576): its first page answers EIO, as on a kernel mount, whose read of it gathers the first extent's pages (READMORE), the last of which holds the second extent's head: both pclusters go in one I/O, which fails past the image's end (page 0 failed EUCLEAN: its pcluster alone, garbled by the neighbouring blocks, was read and decoded)", async () => {
    const image = join(corpus!, "deflate.erofs");
    const bytes = readFileSync(image);
    let fs = await mount(image);
    const file = await fs.lookup("log.txt");
    const z = await loadZInfo(file, fs.superblock, async (o, l) => bytes.subarray(o, o + l));
    const read = async (o: number, l: number) => bytes.subarray(o, o + l);
    const first = await mapCompressed(file, fs.superblock, z, 0, read);
    const second = await mapCompressed(file, fs.superblock, z, first.logical + first.length, read);
    await fs.unmount();
    // The premise: a DEFLATE extent of more than a block (READMORE), its pcluster followed
    // on the device by the next extent's.
    expect(first).toMatchObject({ kind: "encoded", algorithm: COMPRESSION.DEFLATE, logical: 0 });
    expect(first.length).toBeGreaterThan(4096);
    expect(second.physical).toBe(first.physical + first.physicalLength);
    const cut = second.physical + Math.floor(second.physicalLength / 2) + 33;
    const damaged = join(work.path, "deflate-cut-second-pcluster.erofs");
    writeFileSync(damaged, bytes.subarray(0, cut));

    fs = await mount(damaged);
    const ours = await ourRead(fs, await fs.lookup("log.txt"), 0, 4096).finally(() => fs.unmount());
    expect(ours).toBe("EIO");
    const k = KernelMount.tryMount(damaged);
    if (k) {
      try {
        expect(kernelRead(join(k.dir, "log.txt"), 0, 4096)).toBe(ours);
      } finally {
        k.unmount();
      }
    }
  });
});
