import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMPAT, EROFS_SUPER_OFFSET, ERRNO } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, repoRoot, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { inodeAt, kernelList, ourList } from "./file-answers.test-helper.js";
import { ErofsError, mount, type Inode } from "./index.js";

/**
 * What the kernel makes of an xattr body whose i_xattr_icount disagrees with its header.
 * One of only its 12-byte header is a layout it does not support: it answers EOPNOTSUPP
 * from i_xattr_icount alone, without reading the body, so also where the body would lie
 * past the end of the image. One whose shared ids overflow it has them read on past it,
 * and no inline entries.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-xattr-body-size-");
afterAll(work.remove);

/** A copy of fixtures/NAME.erofs to patch, and where the inode of `path` and its xattr body lie in it. */
async function xattrBodyIn(name: string, path: string): Promise<{ bytes: Buffer; inode: Inode; body: number }> {
  const image = join(repoRoot(), `fixtures/${name}.erofs`);
  const fs = await mount(image);
  const inode = await fs.lookup(path);
  await fs.unmount();
  return { bytes: Buffer.from(readFileSync(image)), inode, body: inode.payloadOffset - inode.xattrSize };
}

describe.skipIf(process.getuid?.() !== 0)("an xattr body whose shared ids overflow it", () => {
  it("fixtures/xattrs's file01 with i_xattr_icount cut to 2 (16 bytes, its 3 shared ids need 24): the shared names alone, as on a kernel mount", async () => {
    const { bytes, inode, body } = await xattrBodyIn("xattrs", "file01");
    expect(bytes[body + 4]).toBe(3);
    bytes.writeUInt16LE(2, body - inode.inodeSize + 2);
    const damaged = join(work.path, "shared-overflow.erofs");
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
    const damaged = join(work.path, "header-only.erofs");
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

/** getxattr of each name (the value in hex, or the errno) on a kernel mount, from Python. */
function kernelGets(path: string, names: readonly string[]): string[] {
  const script = [
    "import json, os, sys",
    "def get(n):",
    "    try: return os.getxattr(sys.argv[1], n, follow_symlinks=False).hex()",
    "    except OSError as e: return 'errno %d' % e.errno",
    "print(json.dumps([get(n) for n in sys.argv[2:]]))",
  ].join("\n");
  return JSON.parse(spawnSync("/usr/bin/python3", ["-c", script, path, ...names], { encoding: "utf8" }).stdout) as string[];
}

/** getxattr of each name through the vfs, as kernelGets answers it. */
async function ourGets(image: string, path: string, names: readonly string[]): Promise<string[]> {
  const fs = await mount(image);
  try {
    const inode = await fs.lookup(path);
    const out: string[] = [];
    for (const n of names) {
      out.push(
        await fs.getxattr(inode, new TextEncoder().encode(n)).then(
          (v) => Buffer.from(v).toString("hex"),
          (e: unknown) => (ErofsError.isInstance(e) ? `errno ${e.errno}` : String(e)),
        ),
      );
    }
    return out;
  } finally {
    await fs.unmount();
  }
}

describe.skipIf(process.getuid?.() !== 0)("a damaged inline xattr entry on an image with name filters", () => {
  it("fixtures/xattrs-filter's file01, its first inline entry running past the body: names the filter rules out are ENODATA, the rest EUCLEAN, as on a kernel mount", async () => {
    const { bytes, inode, body } = await xattrBodyIn("xattrs-filter", "file01");
    const firstEntry = body + 12 + 4 * bytes[body + 4]!;
    expect(firstEntry).toBeLessThan(inode.payloadOffset);
    // e_value_size: 16 bits at byte 2 of the entry.
    bytes.writeUInt16LE(0xffff, firstEntry + 2);
    const damaged = join(work.path, "filter-damaged-entry.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));
    // The ACL names: a kernel asks for them at every open and permission check.
    const names = ["system.posix_acl_access", "system.posix_acl_default", "user.common", ...["a", "b", "c", "d", "e", "f"].map((x) => `user.absent.${x}`)];

    const k = KernelMount.tryMount(damaged)!;
    let theirs: string[];
    try {
      theirs = kernelGets(join(k.dir, "file01"), names);
    } finally {
      k.unmount();
    }
    // Both answers occur, or the test would not tell the filter's order from none.
    expect(theirs).toContain(`errno ${ERRNO.ENODATA}`);
    expect(theirs).toContain(`errno ${ERRNO.EFSCORRUPTED}`);
    expect(await ourGets(damaged, "file01", names)).toEqual(theirs);
  });
});

describe.skipIf(process.getuid?.() !== 0)("shared xattrs said to be in a metabox the image does not have", () => {
  it("fixtures/xattrs with the shared_ea_in_metabox bit: every listing and every search past the inline entries is EUCLEAN, inline finds are not, as on a kernel mount", async () => {
    const image = join(repoRoot(), "fixtures/xattrs.erofs");
    const bytes = Buffer.from(readFileSync(image));
    // feature_compat: 32 bits at byte 8 of the superblock.
    bytes.writeUInt32LE(bytes.readUInt32LE(EROFS_SUPER_OFFSET + 8) | COMPAT.SHARED_EA_IN_METABOX, EROFS_SUPER_OFFSET + 8);
    const damaged = join(work.path, "shared-in-absent-metabox.erofs");
    writeFileSync(damaged, resealSuperblock(bytes));
    const paths = ["file00", "file01", "dir_with_attrs", "acl_dir"];
    const names = ["user.big", "user.common", "user.dir", "user.absent"];
    const k = KernelMount.tryMount(damaged)!;
    let theirs: string[];
    try {
      theirs = paths.flatMap((p) => [kernelList(join(k.dir, p)), ...kernelGets(join(k.dir, p), names)]);
    } finally {
      k.unmount();
    }
    expect(theirs).toContain(`errno ${ERRNO.EFSCORRUPTED}`);
    expect(theirs.filter((t) => !t.startsWith("errno")).length).toBeGreaterThan(0);
    const ours: string[] = [];
    for (const p of paths) {
      ours.push(await ourList(damaged, p));
      ours.push(...(await ourGets(damaged, p, names)));
    }
    expect(ours).toEqual(theirs);
  });
});
