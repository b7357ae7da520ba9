import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERRNO } from "@erofs-ts/format";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, resealSuperblock } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

/**
 * An xattr body of only its 12-byte header is a layout the kernel does not support: it
 * answers EOPNOTSUPP from i_xattr_icount alone, without reading the body, so also where
 * the body would lie past the end of the image.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = mkdtempSync(join(tmpdir(), "vfs-xattr-body-size-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** listxattr on a kernel mount, as "names" or "errno N". */
function kernelList(path: string): string {
  const script = "import os, sys\ntry: print(','.join(os.listxattr(sys.argv[1], follow_symlinks=False)))\nexcept OSError as e: print('errno', e.errno)";
  return spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" }).stdout.trim();
}

describe.skipIf(!corpus || process.getuid?.() !== 0)("an xattr body of only its header", () => {
  it("corpus/plain-b1024's last inode with i_xattr_icount 1, its body past the image's end: EOPNOTSUPP, as on a kernel mount", async () => {
    const image = join(corpus!, "plain-b1024.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const fs = await mount(image);
    const path = "sizes/text_65535";
    const inode = await fs.lookup(path);
    await fs.unmount();
    const inodeStart = inode.payloadOffset - inode.xattrSize - inode.inodeSize;
    expect(inode.xattrSize).toBe(0);
    // The body would start where the inode ends: the image's last byte.
    expect(inodeStart + inode.inodeSize).toBe(bytes.length);
    bytes.writeUInt16LE(1, inodeStart + 2);
    const damaged = join(work, "header-only.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const k = KernelMount.tryMount(damaged)!;
    let theirs: string;
    try {
      theirs = kernelList(join(k.dir, path));
    } finally {
      k.unmount();
    }
    const damagedFs = await mount(damaged);
    try {
      const ours = await damagedFs.listxattr(await damagedFs.lookup(path)).then(
        (names) => names.join(","),
        (e: unknown) => (ErofsError.isInstance(e) ? `errno ${e.errno}` : String(e)),
      );
      expect(theirs).toBe(`errno ${ERRNO.EOPNOTSUPP}`);
      expect(ours).toBe(theirs);
    } finally {
      await damagedFs.unmount();
    }
  });
});
