import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canMakeWideImage, corruptWideBlock, corruptWideDirent, kernelDirListing, KernelMount, makeWideImage, ScratchDir, WIDE_ENTRIES, wideEntryName } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

const dir = new ScratchDir("vfs-readdir-parts-");
afterAll(dir.remove);

async function listInParts(fs: ErofsFs, d: Inode, part: number, dots: boolean): Promise<Array<{ name: string; next: number }>> {
  const out: Array<{ name: string; next: number }> = [];
  for (let position = 0; ; ) {
    const got = await fs.readdirFrom(d, position, part, { dots });
    if (got.length === 0) return out;
    expect(got.length).toBeLessThanOrEqual(part);
    for (const e of got) out.push({ name: Buffer.from(e.name).toString(), next: e.next });
    position = got[got.length - 1]!.next;
  }
}

describe.skipIf(!canMakeWideImage())("directories listed in parts (readdirFrom), as the FUSE daemon pages them", () => {
  let image = "";
  beforeAll(() => {
    image = makeWideImage(dir.path);
  });

  it("resuming at each entry's next position gives readdir()'s listing, in any part size, positions rising", async () => {
    const fs = await mount(image);
    const wide = await fs.lookup(new TextEncoder().encode("wide"));
    expect(wide.size).toBeGreaterThan(30 * 4096);
    for (const dots of [false, true]) {
      const whole = (await fs.readdir(wide, { dots })).map((e) => Buffer.from(e.name).toString());
      expect(whole.length).toBe(WIDE_ENTRIES + (dots ? 2 : 0));
      for (const part of [1, 7, 333, 5000]) {
        const parts = await listInParts(fs, wide, part, dots);
        expect(parts.map((e) => e.name)).toEqual(whole);
        for (let i = 1; i < parts.length; i++) expect(parts[i]!.next).toBeGreaterThan(parts[i - 1]!.next);
      }
      // The same through entries(), the streaming form walkers use.
      const streamed: string[] = [];
      for await (const e of fs.entries(wide, { dots })) streamed.push(Buffer.from(e.name).toString());
      expect(streamed).toEqual(whole);
    }
    // Past the end, or at a position inside a dirent, it still answers sensibly.
    expect(await fs.readdirFrom(wide, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    const second = (await fs.readdirFrom(wide, 0, 2, { dots: true }))[1]!;
    const fromInside = await fs.readdirFrom(wide, second.next - 5, 1, { dots: true });
    expect(Buffer.from(fromInside[0]!.name).toString()).toBe(Buffer.from((await fs.readdirFrom(wide, second.next, 1, { dots: true }))[0]!.name).toString());
    await expect(fs.readdirFrom(wide, -1, 1)).rejects.toMatchObject({ code: "EINVAL" });
    await fs.unmount();
  });

  it("readdir() refuses a directory over maxListedEntries with ENOMEM; entries() still lists it", async () => {
    const fs = await mount(image, { maxListedEntries: 1000 });
    const wide = await fs.lookup(new TextEncoder().encode("wide"));
    await expect(fs.readdir(wide)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "ENOMEM" && /more than 1000 entries/.test(e.message));
    let n = 0;
    for await (const _ of fs.entries(wide)) n++;
    expect(n).toBe(WIDE_ENTRIES);
    // The root's 1 entry is well under the limit.
    expect((await fs.readdir(await fs.root())).map((e) => Buffer.from(e.name).toString())).toEqual(["wide"]);
    await fs.unmount();
    await expect(mount(image, { maxListedEntries: 0 })).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("a part reads only the blocks it lists: with a later block corrupt, the first entries still list", async () => {
    const damaged = corruptWideBlock(image, join(dir.path, "damaged.erofs"));
    const bad = await mount(damaged);
    const dirInode = await bad.lookup(new TextEncoder().encode("wide"));
    const first = await bad.readdirFrom(dirInode, 0, 100, { dots: true });
    expect(first.map((e) => Buffer.from(e.name).toString()).slice(2, 4)).toEqual([wideEntryName(0), wideEntryName(1)]);
    await expect(bad.readdir(dirInode)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    // entries() yields everything before the corrupt block, then fails typed.
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of bad.entries(dirInode)) seen++;
      })(),
    ).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    expect(seen).toBeGreaterThan(2000);
    await bad.unmount();
  });

  it("a bad dirent mid-block ends the listing after the dirents before it, then fails EUCLEAN, as getdents(2) on a kernel mount", async () => {
    const damaged = corruptWideDirent(image, join(dir.path, "bad-dirent.erofs"), 5);
    const kernel = KernelMount.tryMount(damaged);
    let theirs: { names: string[]; errno: number } | undefined;
    if (kernel) {
      try {
        theirs = kernelDirListing(join(kernel.dir, "wide"));
      } finally {
        kernel.unmount();
      }
    }
    if (process.getuid?.() === 0) expect(theirs?.errno).toBe(117);
    const whole = await mount(image);
    const sound = (await whole.readdir(await whole.lookup(new TextEncoder().encode("wide")))).map((e) => Buffer.from(e.name).toString());
    await whole.unmount();
    const fs = await mount(damaged);
    const wide = await fs.lookup(new TextEncoder().encode("wide"));
    for (const part of [1, 7, 5000]) {
      const names: string[] = [];
      let failure: ErofsError | undefined;
      for (let position = 0; ; ) {
        let got;
        try {
          got = await fs.readdirFrom(wide, position, part);
        } catch (e) {
          if (!ErofsError.isInstance(e)) throw e;
          failure = e;
          break;
        }
        if (got.length === 0) break;
        for (const e of got) names.push(Buffer.from(e.name).toString());
        position = got[got.length - 1]!.next;
      }
      expect(failure?.code, `part ${part}`).toBe("EFSCORRUPTED");
      // Every entry before the bad one lists (the last block's first five among them), none after it.
      expect(names.length, `part ${part}`).toBeGreaterThan(5);
      expect(names.length, `part ${part}`).toBeLessThan(sound.length);
      expect(names, `part ${part}`).toEqual(sound.slice(0, names.length));
      if (theirs) expect({ names, errno: failure!.errno }, `part ${part}`).toEqual(theirs);
    }
    await expect(fs.readdir(wide)).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    await fs.unmount();
  });
});

