import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DATALAYOUT } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus } from "@erofs-ts/testkit";
import { filePaths, kernelAnswers, ourAnswers, withSize } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

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
const work = mkdtempSync(join(tmpdir(), "vfs-extent-decode-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

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
      const damaged = join(work, `cut-${size}.erofs`);
      writeFileSync(damaged, withSize(bytes, victim!, size));
      const theirs = kernelAnswers(damaged, paths);
      expect(await ourAnswers(damaged, paths), `i_size ${size}`).toEqual(theirs);
      expect(theirs.filter((line) => !/ [0-9a-f]{64}$/.test(line)), `i_size ${size}`).toEqual([]);
    }
  });
});

describe.skipIf(!corpus || process.getuid?.() !== 0)("a stored pcluster shorter than its extent", () => {
  it("corpus/metacompress with its metabox inode's i_size grown a block: the inodes past the stored tail fail EOPNOTSUPP, as on a kernel mount", async () => {
    const image = join(corpus!, "metacompress.erofs");
    const fs = await mount(image);
    const paths = await filePaths(fs, await fs.root());
    const metabox = await fs.iget(fs.superblock.metaboxNid);
    await fs.unmount();
    const damaged = join(work, "metabox-grown.erofs");
    writeFileSync(damaged, withSize(readFileSync(image), metabox, metabox.size + 4096));

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EOPNOTSUPP")).length).toBeGreaterThan(0);
  });
});
