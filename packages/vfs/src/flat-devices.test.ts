import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, ensureCorpus, loadManifest, nameBytes } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

/**
 * Images with extra devices mounted without device=: the kernel mounts them "flat", each
 * device's blocks read from the image itself at the device's unified address (an image
 * with its blobs appended). corpus/blobdev (unified addresses) and corpus/tar-index (chunk
 * indexes naming the device) have their devices' uniaddr at the primary's end.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = mkdtempSync(join(tmpdir(), "vfs-flat-devices-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!corpus)("extra devices not given: read flat, as the kernel reads them", () => {
  for (const name of ["blobdev", "tar-index"]) {
    it(`${name} with its device appended reads as its manifest, without device=`, async () => {
      const m = loadManifest(join(corpus!, `${name}.manifest.json`));
      const device = join(corpus!, m.mount_options.match(/device=([^,]+)/)![1]!);
      const flat = join(work, `${name}-flat.erofs`);
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
});
