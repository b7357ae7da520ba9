import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, loadManifest, nameBytes, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { EROFS_SUPER_OFFSET } from "@erofs-ts/format";
import { ErofsError, mount } from "./index.js";

/**
 * Images with extra devices mounted without device=: the kernel mounts them "flat", each
 * device's blocks read from the image itself at the device's unified address (an image
 * with its blobs appended). corpus/blobdev (unified addresses) and corpus/tar-index (chunk
 * indexes naming the device) have their devices' uniaddr at the primary's end.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-flat-devices-");
afterAll(work.remove);

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!corpus)("extra devices not given: read flat, as the kernel reads them", () => {
  for (const name of ["blobdev", "tar-index"]) {
    it(`${name} with its device appended reads as its manifest, without device=`, async () => {
      const m = loadManifest(join(corpus!, `${name}.manifest.json`));
      const device = join(corpus!, m.mount_options.match(/device=([^,]+)/)![1]!);
      const flat = join(work.path, `${name}-flat.erofs`);
      writeFileSync(flat, Buffer.concat([readFileSync(join(corpus!, `${name}.erofs`)), readFileSync(device)]));
      const fs = await mount(flat);
      try {
        const files = m.entries.filter((e) => e.type === "file");
        expect(files.filter((e) => e.size > 0).length).toBeGreaterThan(5);
        for (const e of files) {
          const inode = await fs.lookup(nameBytes(e.path));
          expect(`${e.path} ${sha256(await fs.read(inode, 0, inode.size))}`).toBe(`${e.path} ${e.sha256}`);
        }
      } finally {
        await fs.unmount();
      }
    });
  }

  it("blobdev alone mounts; data on its device, past the image's end, fails EIO naming the device, as on a kernel mount", async () => {
    const image = join(corpus!, "blobdev.erofs");
    const m = loadManifest(join(corpus!, "blobdev.manifest.json"));
    const file = m.entries.find((e) => e.type === "file" && e.size > 4096)!;
    const fs = await mount(image);
    try {
      // Metadata is all in the image.
      expect((await fs.readdir(await fs.root())).length).toBeGreaterThan(0);
      const inode = await fs.lookup(nameBytes(file.path));
      const error = await fs.read(inode, 0, inode.size).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(ErofsError.isInstance(error) && error.code).toBe("EIO");
      expect((error as Error).message).toMatch(/extra device 1, which was not given/);
    } finally {
      await fs.unmount();
    }
    const k = KernelMount.tryMount(image);
    if (!k) return;
    try {
      expect(() => readFileSync(Buffer.concat([Buffer.from(`${k.dir}/`), nameBytes(file.path)]))).toThrow(expect.objectContaining({ code: "EIO" }));
    } finally {
      k.unmount();
    }
  });

  it("a device table past the image's end reads as zeros: the image mounts, with and without its device, as on a kernel mount", async () => {
    const m = loadManifest(join(corpus!, "blobdev.manifest.json"));
    const device = join(corpus!, m.mount_options.match(/device=([^,]+)/)![1]!);
    const bytes = readFileSync(join(corpus!, "blobdev.erofs"));
    // devt_slotoff (16 bits at byte 88 of the superblock) at its largest: 8 MiB in.
    bytes.writeUInt16LE(0xffff, EROFS_SUPER_OFFSET + 88);
    const image = join(work.path, "blobdev-table-past-end.erofs");
    writeFileSync(image, resealSuperblock(bytes));
    const files = m.entries.filter((e) => e.type === "file");
    /** Each file's sha256 or errno, through the vfs. */
    const ours = async (devices: string[]) => {
      const fs = await mount(image, { devices });
      try {
        expect(fs.metadataReadsPastEnd).toBeGreaterThan(0);
        const out: string[] = [];
        for (const e of files) {
          const inode = await fs.lookup(nameBytes(e.path));
          out.push(await fs.read(inode, 0, inode.size).then(sha256, (err: unknown) => (ErofsError.isInstance(err) ? err.code : String(err))));
        }
        return out;
      } finally {
        await fs.unmount();
      }
    };
    // Given, the device is named by the chunk indexes: the slot's zeros do not matter.
    const withDevice = await ours([device]);
    expect(withDevice).toEqual(files.map((e) => e.sha256));
    // Not given, the device's blocks are the image's own from address 0 (uniaddr reads 0).
    const flat = await ours([]);
    expect(flat).toContain("EIO");
    for (const [devices, answers] of [[[device], withDevice], [[], flat]] as const) {
      const k = KernelMount.tryMount(image, { devices: [...devices] });
      if (!k) return;
      try {
        const kernel = files.map((e) => {
          try {
            return sha256(readFileSync(Buffer.concat([Buffer.from(`${k.dir}/`), nameBytes(e.path)])));
          } catch (err) {
            return (err as NodeJS.ErrnoException).code;
          }
        });
        expect(answers).toEqual(kernel);
      } finally {
        k.unmount();
      }
    }
  });
});
