import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, resealSuperblock } from "@erofs-ts/testkit";
import { filePaths, kernelAnswers, ourAnswers } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * A stored (uncompressed) pcluster asked to give more than it holds: the kernel's stored
 * transforms refuse that as unsupported, EOPNOTSUPP, not as corruption.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = mkdtempSync(join(tmpdir(), "vfs-stored-pcluster-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!corpus || process.getuid?.() !== 0)("a stored pcluster shorter than its extent", () => {
  it("corpus/metacompress with its metabox inode's i_size grown a block: the inodes past the stored tail fail EOPNOTSUPP, as on a kernel mount", async () => {
    const image = join(corpus!, "metacompress.erofs");
    const fs = await mount(image);
    const paths = await filePaths(fs, await fs.root());
    const metabox = await fs.iget(fs.superblock.metaboxNid);
    await fs.unmount();
    const bytes = Buffer.from(readFileSync(image));
    // i_size sits 8 bytes into either inode form.
    const sizeAt = metabox.payloadOffset - metabox.xattrSize - metabox.inodeSize + 8;
    bytes.writeUInt32LE(metabox.size + 4096, sizeAt);
    const damaged = join(work, "metabox-grown.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    expect(theirs.filter((line) => line.endsWith(" EOPNOTSUPP")).length).toBeGreaterThan(0);
  });
});
