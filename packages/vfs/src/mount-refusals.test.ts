import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EROFS_SUPER_OFFSET } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, kernelMountErrno, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

/**
 * A damaged superblock (or root) is refused as the kernel's mount refuses it: the same
 * checks in the same order, each with the errno mount(2) returns (EINVAL, EBADMSG for a
 * wrong checksum, EUCLEAN or EOPNOTSUPP for a bad root inode), and what it takes is taken.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-mount-refusals-");
afterAll(work.remove);

/** Offsets in struct erofs_super_block. */
const FIELD = { checksum: 4, extslots: 13, rootNid: 14, incompat: 80, dirblkbits: 90 } as const;

interface Damage {
  name: string;
  patch: (sb: DataView) => void;
  /** Leave the checksum wrong (it is redone after the patch otherwise). */
  badChecksum?: boolean;
}

const damages: Damage[] = [
  { name: "a wrong checksum", patch: () => {}, badChecksum: true },
  { name: "an unknown incompat feature", patch: (v) => v.setUint32(FIELD.incompat, v.getUint32(FIELD.incompat, true) | 0x80000000, true) },
  { name: "an unknown incompat feature and a wrong checksum", patch: (v) => v.setUint32(FIELD.incompat, 0x80000000, true), badChecksum: true },
  { name: "dirblkbits 1", patch: (v) => v.setUint8(FIELD.dirblkbits, 1) },
  { name: "dirblkbits 1 and a wrong checksum", patch: (v) => v.setUint8(FIELD.dirblkbits, 1), badChecksum: true },
  { name: "a superblock of 3072 bytes", patch: (v) => v.setUint8(FIELD.extslots, 184) },
  { name: "a superblock of 3088 bytes", patch: (v) => v.setUint8(FIELD.extslots, 185) },
  { name: "a root nid of 0", patch: (v) => v.setUint16(FIELD.rootNid, 0, true) },
];

/** `image` with `damage` done to its superblock, written to the work directory. */
function damaged(image: string, damage: Damage, name: string): string {
  const bytes = Buffer.from(readFileSync(image));
  damage.patch(new DataView(bytes.buffer, bytes.byteOffset + EROFS_SUPER_OFFSET, 128));
  resealSuperblock(bytes);
  if (damage.badChecksum) bytes.writeUInt32LE((bytes.readUInt32LE(EROFS_SUPER_OFFSET + FIELD.checksum) ^ 1) >>> 0, EROFS_SUPER_OFFSET + FIELD.checksum);
  const out = join(work.path, name);
  writeFileSync(out, bytes);
  return out;
}

/** 0 when the vfs mounts `image` (and reads its root), else the errno of its typed error. */
async function ourMountErrno(image: string): Promise<number> {
  try {
    const fs = await mount(image);
    await fs.unmount();
    return 0;
  } catch (e) {
    if (ErofsError.isInstance(e)) return e.errno;
    throw e;
  }
}

describe.skipIf(!corpus || process.getuid?.() !== 0)("a damaged superblock, refused or taken as the kernel's mount does", () => {
  // 4 KiB blocks, and 1 KiB ones, where the superblock's limit is not its block's size.
  for (const base of ["plain", "plain-b1024"]) {
    it.each(damages.map((d) => [d.name, d] as const))(`corpus/${base} with %s`, async (_name, damage) => {
      const image = damaged(join(corpus!, `${base}.erofs`), damage, `${base}-${damages.indexOf(damage)}.erofs`);
      const theirs = kernelMountErrno(image);
      expect(await ourMountErrno(image)).toBe(theirs);
    });
  }

  it("corpus/plain cut to 1,315 bytes, which a loop device holds as 1,024 (no superblock): EINVAL on both sides", async () => {
    const cut = join(work.path, "cut-1315.erofs");
    writeFileSync(cut, readFileSync(join(corpus!, "plain.erofs")).subarray(0, 1315));
    expect(kernelMountErrno(cut)).toBe(22);
    expect(await ourMountErrno(cut)).toBe(22);
  });

  it("corpus/plain with a regular file as its root: EINVAL on both sides", async () => {
    const image = join(corpus!, "plain.erofs");
    const fs = await mount(image);
    let file: { nid: bigint } | undefined;
    for (const e of await fs.readdir(await fs.root())) if (!file && (await fs.iget(e.nid)).kind === "file") file = e;
    await fs.unmount();
    expect(file).toBeDefined();
    const rooted = damaged(image, { name: "file root", patch: (v) => v.setUint16(FIELD.rootNid, Number(file!.nid), true) }, "file-root.erofs");
    expect(kernelMountErrno(rooted)).toBe(22);
    expect(await ourMountErrno(rooted)).toBe(22);
  });
});
