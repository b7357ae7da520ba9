import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERRNO } from "@erofs-ts/format";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, repoRoot, resealSuperblock } from "@erofs-ts/testkit";
import { inodeAt, kernelList, ourList } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * What the kernel makes of an xattr body whose i_xattr_icount disagrees with its header.
 * One of only its 12-byte header is a layout it does not support: it answers EOPNOTSUPP
 * from i_xattr_icount alone, without reading the body, so also where the body would lie
 * past the end of the image. One whose shared ids overflow it has them read on past it,
 * and no inline entries.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = mkdtempSync(join(tmpdir(), "vfs-xattr-body-size-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));



describe.skipIf(process.getuid?.() !== 0)("an xattr body whose shared ids overflow it", () => {
  it("fixtures/xattrs's file01 with i_xattr_icount cut to 2 (16 bytes, its 3 shared ids need 24): the shared names alone, as on a kernel mount", async () => {
    const image = join(repoRoot(), "fixtures/xattrs.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const fs = await mount(image);
    const inode = await fs.lookup("file01");
    await fs.unmount();
    const body = inode.payloadOffset - inode.xattrSize;
    expect(bytes[body + 4]).toBe(3);
    bytes.writeUInt16LE(2, body - inode.inodeSize + 2);
    const damaged = join(work, "shared-overflow.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));

    const k = KernelMount.tryMount(damaged)!;
    let theirs: string;
    try {
      theirs = kernelList(join(k.dir, "file01"));
    } finally {
      k.unmount();
    }
    expect(theirs.split(",")).toHaveLength(3);
    expect(await ourList(damaged, "file01")).toBe(theirs);
  });
});

describe.skipIf(!corpus || process.getuid?.() !== 0)("an xattr body of only its header", () => {
  it("corpus/plain-b1024's last inode with i_xattr_icount 1, its body past the image's end: EOPNOTSUPP, as on a kernel mount", async () => {
    const image = join(corpus!, "plain-b1024.erofs");
    const bytes = Buffer.from(readFileSync(image));
    const fs = await mount(image);
    const path = "sizes/text_65535";
    const inode = await fs.lookup(path);
    await fs.unmount();
    const inodeStart = inodeAt(inode);
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
    expect(theirs).toBe(`errno ${ERRNO.EOPNOTSUPP}`);
    expect(await ourList(damaged, path)).toBe(theirs);
  });
});
