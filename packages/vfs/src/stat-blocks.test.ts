import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { mount } from "./index.js";

/**
 * st_blocks of a compressed inode, from the block count it stores (i_u), as the kernel
 * computes it: the count shifted to 512-byte units in 32-bit arithmetic.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-stat-blocks-");
afterAll(work.remove);

/** i_u in both inode forms (compact and extended): 32 bits at byte 16. */
const I_U = 16;

describe.skipIf(!corpus)("st_blocks of a compressed inode, as the kernel counts it", () => {
  it.each([0x1fffffff, 0x20000000, 0xfffffffe])("corpus/lz4 with a compressed file's stored block count set to %i", async (count) => {
    const image = join(corpus!, "lz4.erofs");
    const fs = await mount(image);
    const files = [];
    for (const e of await fs.readdir(await fs.root())) {
      const inode = await fs.iget(e.nid);
      if (inode.kind === "file" && fs.stat(inode).compressed) files.push({ name: Buffer.from(e.name).toString(), nid: e.nid });
    }
    const { metaBlkaddr, blockSize } = fs.superblock;
    await fs.unmount();
    expect(files.length).toBeGreaterThan(0);
    const { name, nid } = files[0]!;
    const bytes = Buffer.from(readFileSync(image));
    bytes.writeUInt32LE(count, metaBlkaddr * blockSize + Number(nid) * 32 + I_U);
    const patched = join(work.path, `blocks-${count}.erofs`);
    writeFileSync(patched, resealSuperblock(bytes));

    const ours = await mount(patched);
    const stat = ours.stat(await ours.lookup(`/${name}`));
    await ours.unmount();
    // 4 KiB blocks: eight 512-byte units each, the product kept to 32 bits.
    expect(stat.blocks).toBe(((count * 8) % 2 ** 32));
    expect(stat.blocksBig).toBe(BigInt(stat.blocks));
    const kernel = KernelMount.tryMount(patched);
    if (kernel) {
      try {
        expect(stat.blocks).toBe(lstatSync(join(kernel.dir, name)).blocks);
      } finally {
        kernel.unmount();
      }
    }
  });
});
