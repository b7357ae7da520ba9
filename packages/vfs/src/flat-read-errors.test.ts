import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DATALAYOUT } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir } from "@erofs-ts/testkit";
import { filePaths, kernelRead, withSize } from "./file-answers.test-helper.js";
import { ErofsError, mount } from "./index.js";

/**
 * A read of an uncompressed file that cannot be done fails EIO, as on a kernel mount,
 * whatever the cause: the kernel reads such pages through iomap, and a page iomap could
 * not fill is reported to read(2) as EIO (the cause goes to the kernel log).
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-flat-read-errors-");
afterAll(work.remove);

describe.skipIf(!corpus)("reads of an uncompressed file that cannot be done", () => {
  it("corpus/plain with a tail-packed file's i_size grown so its inline data crosses its block: EIO, as on a kernel mount", async () => {
    const image = join(corpus!, "plain.erofs");
    const fs = await mount(image);
    let victim;
    for (const path of await filePaths(fs, await fs.root())) {
      const inode = await fs.lookup(path);
      if (inode.datalayout === DATALAYOUT.FLAT_INLINE && inode.size > 0 && inode.size < 2048) victim = { path, inode };
    }
    await fs.unmount();
    expect(victim).toBeDefined();
    // All of it inline, 4,095 bytes from after the inode: past the end of its block.
    const damaged = join(work.path, "inline-across.erofs");
    writeFileSync(damaged, withSize(readFileSync(image), victim!.inode, 4095));
    const ours = await mount(damaged);
    let code = "ok";
    try {
      await ours.read(await ours.lookup(victim!.path), 0, 4095);
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e;
      code = e.code;
    } finally {
      await ours.unmount();
    }
    expect(code).toBe("EIO");
    const k = KernelMount.tryMount(damaged);
    if (k) {
      try {
        expect(kernelRead(Buffer.concat([Buffer.from(`${k.dir}/`), victim!.path]).toString("latin1"), 0, 4095)).toBe("EIO");
      } finally {
        k.unmount();
      }
    }
  });
});
