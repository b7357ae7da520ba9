import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { headerOffset } from "@erofs-ts/format";
import { CORPUS_ABSENT, corpusImages, ensureCorpus, fiemapAnswer, fixtureImages, hasCommand, kernelFiemapOf, loadManifest, mountOptionsFor, nameBytes, resealSuperblock, seededRandom, unifiedDeviceStart, type CorpusImage, type FiemapAnswer } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type FileExtent } from "./index.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const isRoot = process.getuid?.() === 0;

/** The errno name the kernel gives for a vfs error code. */
function errnoName(e: unknown): string {
  if (!ErofsError.isInstance(e)) throw e;
  return e.code === "EFSCORRUPTED" ? "EUCLEAN" : e.code;
}

async function ourFiemap(fs: ErofsFs, paths: Buffer[]): Promise<Map<string, FiemapAnswer>> {
  const out = new Map<string, FiemapAnswer>();
  for (const p of paths) out.set(p.toString("hex"), await fiemapAnswer(fs.extents(await fs.lookup(p)), errnoName, { deviceStart: unifiedDeviceStart(fs) }));
  return out;
}

function sorted(m: Map<string, FiemapAnswer>): [string, FiemapAnswer][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Every regular file's and directory's extents against FS_IOC_FIEMAP on a kernel mount of
 * the same image (filefrag's ioctl): offsets, physical addresses, lengths and flags,
 * extent by extent.
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
        const kernel = kernelFiemapOf(img.image, { devices: given, fsoffset });
        if (!kernel) throw new Error(`the kernel does not mount ${label}`);
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

const hasMkfs = hasCommand("mkfs.erofs");

/**
 * FIEMAP maps an extent from its head to the next head without reading it, so a stored
 * (PLAIN) pcluster whose next head a damaged index moves 64 bytes on reports 4,160 bytes
 * for its 4,096, where a read of those bytes fails (EUCLEAN): the report is not the read.
 */
describe.skipIf(!isRoot || !hasMkfs)("fs.extents() of a damaged lcluster index, as FIEMAP reports it", () => {
  it("a stored pcluster whose next head moved past its end", async () => {
    const work = mkdtempSync(join(tmpdir(), "erofs-fiemap-"));
    try {
      const rnd = seededRandom(5);
      const noise = Buffer.alloc(32768);
      for (let i = 0; i < noise.length; i++) noise[i] = rnd() & 0xff;
      mkdirSync(join(work, "tree"));
      writeFileSync(join(work, "tree", "mix"), Buffer.concat([Buffer.alloc(8192, "a"), noise, Buffer.alloc(8192, "b")]));
      const image = join(work, "mix.erofs");
      // Full (legacy) indexes: one 8-byte record per lcluster, its clusterofs at byte 2.
      execFileSync("mkfs.erofs", ["-zlz4", "-Elegacy-compress", image, join(work, "tree")], { stdio: "ignore" });
      const sound = await mount(image);
      const inode = await sound.lookup("mix");
      const stored: FileExtent[] = [];
      for await (const e of sound.extents(inode)) if (e.format === "plain") stored.push(e);
      await sound.unmount();
      expect(stored.length).toBeGreaterThan(1);
      const next = stored[0]!.logical / 4096 + 1;
      const bytes = readFileSync(image);
      // After the map header and 8 reserved bytes (Z_EROFS_FULL_INDEX_START).
      bytes.writeUInt16LE(64, headerOffset(inode) + 16 + next * 8 + 2);
      writeFileSync(image, resealSuperblock(bytes));

      const kernel = kernelFiemapOf(image);
      if (!kernel) throw new Error("the kernel does not mount the damaged image");
      const fs = await mount(image);
      try {
        const ours = await ourFiemap(fs, [Buffer.from("mix")]);
        expect(ours.get(Buffer.from("mix").toString("hex"))).toEqual(kernel.get(Buffer.from("mix").toString("hex")));
        // The case arose: a stored extent reported 64 bytes longer than its pcluster.
        expect(kernel.get(Buffer.from("mix").toString("hex"))).toContainEqual([stored[0]!.logical, stored[0]!.physical, 4160, 0]);
        await expect(fs.read(await fs.lookup("mix"), stored[0]!.logical, 8192)).rejects.toMatchObject({ code: "EFSCORRUPTED" });
      } finally {
        await fs.unmount();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/**
 * One byte of a compressed file's map header or lcluster indexes changed at random (the
 * same bytes on every run), in copies of corpus images: fs.extents() must report what
 * FIEMAP reports on the kernel's mount of each copy, or fail where it fails. Found the
 * stored-pcluster case above.
 */
describe.skipIf(!isRoot || !corpus)("fs.extents() of corpus images with a damaged index byte, as FIEMAP reports them", () => {
  const COPIES = 12;
  for (const name of ["lz4-legacy", "zstd", "lz4-fragments-dedupe", "bit48-lz4"]) {
    it(name, async () => {
      const work = mkdtempSync(join(tmpdir(), "erofs-fiemap-damage-"));
      try {
        const source = join(corpus!, `${name}.erofs`);
        const sound = await mount(source);
        const m = loadManifest(join(corpus!, `${name}.manifest.json`));
        const targets: { path: Buffer; at: number }[] = [];
        for (const e of m.entries.filter((x) => x.type === "file" && x.size > 8192)) {
          const inode = await sound.lookup(nameBytes(e.path));
          if (inode.datalayout % 2 === 1) targets.push({ path: nameBytes(e.path), at: inode.payloadOffset });
        }
        await sound.unmount();
        expect(targets.length).toBeGreaterThan(0);
        const rnd = seededRandom(name.length);
        let compared = 0;
        for (let copy = 0; copy < COPIES; copy++) {
          const t = targets[rnd() % targets.length]!;
          const bytes = readFileSync(source);
          bytes[t.at + (rnd() % 96)] = rnd() & 0xff;
          const image = join(work, `${copy}.erofs`);
          writeFileSync(image, resealSuperblock(bytes));
          const kernel = kernelFiemapOf(image);
          if (!kernel) continue; // the byte landed where the kernel refuses the mount
          const fs = await mount(image);
          try {
            const ours = await ourFiemap(fs, [...kernel.keys()].map((hex) => Buffer.from(hex, "hex")));
            expect(sorted(ours), `copy ${copy}: ${t.path}`).toEqual(sorted(kernel));
            compared++;
          } finally {
            await fs.unmount();
          }
        }
        expect(compared).toBeGreaterThan(COPIES / 2);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
