import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, sha256Hex } from "@erofs-ts/testkit";
import { kernelRead, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";

/**
 * Which error a compressed page answers when its read meets two: the kernel's read_folio
 * scans the page from its end down and stops at a map that fails, but still reads and
 * decodes the pclusters it attached above that point, and their failure is what it
 * returns.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = mkdtempSync(join(tmpdir(), "vfs-read-folio-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!corpus)("a page with a failed map below a pcluster that cannot be read", () => {
  it("corpus/real/app-a-lz4 with module-importer.cjs's i_size raised from 854 to 13,664 (real mutant 531494): its index past the real end maps page 2 as a stored extent past the image above a map that fails; pages 2 and 3 answer EIO, as on a kernel mount (page 2 failed EUCLEAN, for the map)", async () => {
    const image = join(corpus!, "real/app-a-lz4.erofs");
    const path = "@humanwhocodes/module-importer/dist/module-importer.cjs";
    let fs = await mount(image);
    const sound = await fs.lookup(path);
    await fs.unmount();
    expect(sound.size).toBe(854);
    const damaged = join(work, "module-importer-13664.erofs");
    writeFileSync(damaged, withSize(readFileSync(image), sound, 13664));

    const pages = [0, 4096, 8192, 12288];
    fs = await mount(damaged);
    const ours: string[] = [];
    try {
      const file = await fs.lookup(path);
      for (const at of pages) {
        try {
          ours.push(sha256Hex([await fs.read(file, at, 4096)]));
        } catch (e) {
          if (!ErofsError.isInstance(e)) throw e;
          ours.push(e.code);
        }
      }
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
});
