import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErofsError, headerOffset, isCompressedLayout, loadZInfo, loadZInfoInMemory, nidInMetabox, type Inode, type MetaPeek, type MetaRead, type Superblock } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, loadManifest } from "@erofs-ts/testkit";
import { mount } from "./index.js";
import { eachEntry } from "./walk.test-helper.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

/** Images above this are left out: the test holds each one whole in memory. */
const MAX_IMAGE_BYTES = 256 << 20;

/** The whole image as metadata: a read of any range (zeros past the end) and a peek that always finds it. */
function wholeImage(bytes: Uint8Array): { read: MetaRead; peek: MetaPeek } {
  return {
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      if (offset < bytes.length) out.set(bytes.subarray(offset, Math.min(bytes.length, offset + length)));
      return out;
    },
    peek: (offset, length, into) => {
      if (offset < 0 || offset + length > bytes.length) return false;
      into.bytes = bytes;
      into.start = 0;
      return true;
    },
  };
}

/** What a load gives: the facts, or the error code it fails with. */
async function outcome(load: () => unknown): Promise<unknown> {
  try {
    return await load();
  } catch (e) {
    if (ErofsError.isInstance(e)) return `error ${e.code}`;
    throw e;
  }
}

/** Every compressed inode of an image (metabox inodes left out: their bytes are not at their offsets in the image). */
async function compressedInodes(image: string): Promise<{ sb: Superblock; inodes: Inode[] }> {
  const fs = await mount(image);
  try {
    const inodes: Inode[] = [];
    await eachEntry(fs, (_path, inode) => {
      if (isCompressedLayout(inode.datalayout) && !nidInMetabox(inode.nid)) inodes.push(inode);
    });
    return { sb: fs.superblock, inodes };
  } finally {
    await fs.unmount();
  }
}

/**
 * The vfs maps a compressed file's first read from the map header in memory when the
 * inode's block is cached (loadZInfoInMemory), and through loadZInfo otherwise. The two
 * must agree on every header the kernel can meet: the same facts, or, where the bytes are
 * damaged, the same error (the vfs then takes loadZInfo's).
 */
describe.skipIf(!corpus)("map headers read in memory", () => {
  const images = mountableImages().filter((name) => statSync(join(corpus!, `${name}.erofs`)).size <= MAX_IMAGE_BYTES);

  it("give what loadZInfo gives, on every compressed inode of the corpus", async () => {
    let compared = 0;
    let withTail = 0;
    for (const name of images) {
      const image = join(corpus!, `${name}.erofs`);
      const { sb, inodes } = await compressedInodes(image);
      const { read, peek } = wholeImage(readFileSync(image));
      for (const inode of inodes) {
        const expected = await loadZInfo(inode, sb, read);
        expect(loadZInfoInMemory(inode, sb, peek), `${name} nid ${inode.nid}`).toEqual(expected);
        compared++;
        if (expected.tailHeadLcn >= 0) withTail++;
      }
    }
    // Tail-packed and fragment tails are the part of the header walked by index.
    expect(withTail).toBeGreaterThan(1000);
    expect(compared).toBeGreaterThan(withTail);
  });

  it("fail as loadZInfo fails, or agree, with any byte of the header or the indexes after it damaged", async () => {
    let failures = 0;
    for (const name of ["lz4hc-tail", "lz4-fragments-dedupe", "wide-lz4", "lz4-legacy", "bit48-lz4", "lzma"]) {
      const image = join(corpus!, `${name}.erofs`);
      const { sb, inodes } = await compressedInodes(image);
      const pristine = readFileSync(image);
      // The first few inodes of each image, every byte of their header and of the 24 after it.
      for (const inode of inodes.slice(0, 6)) {
        const header = headerOffset(inode);
        for (let at = header; at < header + 32; at++) {
          for (const flip of [0x01, 0x10, 0x80, 0xff]) {
            const bytes = Uint8Array.from(pristine);
            bytes[at]! ^= flip;
            const { read, peek } = wholeImage(bytes);
            const expected = await outcome(() => loadZInfo(inode, sb, read));
            if (typeof expected === "string") failures++;
            expect(await outcome(() => loadZInfoInMemory(inode, sb, peek)), `${name} nid ${inode.nid} byte ${at} ^ ${flip}`).toEqual(expected);
          }
        }
      }
    }
    expect(failures).toBeGreaterThan(0);
  });
});

/**
 * The corpus images that mount with no options (those whose manifest asks for none; the
 * real/app-a-* variants share app-a's), by name without ".erofs".
 */
function mountableImages(): string[] {
  const names: string[] = [];
  for (const dir of ["", "real/"]) {
    for (const file of readdirSync(join(corpus!, dir)).filter((f) => f.endsWith(".erofs"))) {
      const name = `${dir}${file.slice(0, -".erofs".length)}`;
      const manifest = join(corpus!, `${name}.manifest.json`);
      if (!existsSync(manifest) || !loadManifest(manifest).mount_options) names.push(name);
    }
  }
  return names;
}
