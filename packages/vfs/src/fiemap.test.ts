import { describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, asFiemap, corpusImages, ensureCorpus, fixtureImages, kernelFiemap, loadManifest, mountOptionsFor, nameBytes, type CorpusImage, type FiemapAnswer } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type FileExtent } from "./index.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const isRoot = process.getuid?.() === 0;

async function ourFiemap(fs: ErofsFs, paths: Buffer[]): Promise<Map<string, FiemapAnswer>> {
  const out = new Map<string, FiemapAnswer>();
  const deviceStart = (device: number) => fs.devices[device - 1]!.uniaddr * fs.superblock.blockSize;
  for (const p of paths) {
    const inode = await fs.lookup(p);
    try {
      const extents: FileExtent[] = [];
      for await (const e of fs.extents(inode)) extents.push(e);
      out.set(p.toString("hex"), asFiemap(extents, deviceStart));
    } catch (e) {
      if (!ErofsError.isInstance(e)) throw e;
      out.set(p.toString("hex"), e.code);
    }
  }
  return out;
}

function sorted(m: Map<string, FiemapAnswer>): [string, FiemapAnswer][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Every regular file's and directory's extents against FS_IOC_FIEMAP on a kernel mount of the same image
 * (filefrag's ioctl): offsets, physical addresses, lengths and flags, extent by extent.
 * Multi-device images are compared with their devices given and, where the kernel mounts
 * them so, without (flat mode: extra devices read from the image itself).
 */
describe.skipIf(!isRoot)("fs.extents() as the kernel's FIEMAP reports them", () => {
  const images: CorpusImage[] = [...(corpus ? corpusImages(corpus) : []), ...fixtureImages()];
  for (const img of images) {
    const m = loadManifest(img.manifest);
    const files = m.entries.filter((e) => e.type === "file" || e.type === "dir").map((e) => nameBytes(e.path));
    const { devices, fsoffset } = mountOptionsFor(m, img.image);
    const modes = devices.length ? [devices, []] : [devices];
    for (const given of modes) {
      const label = devices.length && !given.length ? `${img.name} (devices not given)` : img.name;
      it(label, async () => {
        const k = KernelMount.tryMount(img.image, { devices: given, fsoffset });
        if (!k) {
          console.log(`${label}: the kernel does not mount it so; nothing to compare`);
          return;
        }
        let kernel: Map<string, FiemapAnswer>;
        try {
          kernel = kernelFiemap(k.dir);
        } finally {
          k.unmount();
        }
        const fs = await mount(img.image, { devices: given, fsoffset });
        try {
          expect(sorted(await ourFiemap(fs, files))).toEqual(sorted(kernel));
        } finally {
          await fs.unmount();
        }
      });
    }
  }
});
