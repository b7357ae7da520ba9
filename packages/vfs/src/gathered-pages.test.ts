import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync, constants as zlib } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { COMPRESSION } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir } from "@erofs-ts/testkit";
import { compressedFile, withCompactIndexWord } from "./file-answers.test-helper.js";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

/**
 * A read that maps an extent to its end (READMORE) gathers the pages after its own up to
 * the extent's last, but each gathered page joins the extent's pcluster only where its
 * own map meets that extent: the pcluster decodes no further than the highest page that did.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-gathered-pages-");
afterAll(work.remove);

const READ = 128 << 10;
const PAGE = 4096;

/**
 * A file read from its start in 128 KiB read(2)s until one fails or the file ends, on a
 * kernel mount: "bytes errno-or-ok sha256-of-those-bytes". `random`: readahead off
 * (POSIX_FADV_RANDOM), so only each read's own pages (and what they gather) are read.
 */
function kernelUntilFailure(path: string, random: boolean): string {
  const script = [
    "import hashlib, os, sys",
    "fd = os.open(sys.argv[1], os.O_RDONLY)",
    "if sys.argv[2] == '1': os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)",
    "h = hashlib.sha256(); n = 0; end = 'ok'",
    "while True:",
    "    try: b = os.read(fd, int(sys.argv[3]))",
    "    except OSError as e: end = 'errno %d' % e.errno; break",
    "    if not b: break",
    "    h.update(b); n += len(b)",
    "print(n, end, h.hexdigest())",
  ].join("\n");
  return spawnSync("/usr/bin/python3", ["-c", script, path, random ? "1" : "0", String(READ)], { encoding: "utf8" }).stdout.trim();
}

/**
 * kernelUntilFailure through the vfs. A read(2) that fails part way returns the pages
 * before the failing one first: a failed 128 KiB read is tried again a page at a time.
 */
async function oursUntilFailure(fs: ErofsFs, inode: Inode): Promise<string> {
  const h = createHash("sha256");
  let n = 0;
  const next = async (length: number): Promise<Uint8Array> => {
    const b = await fs.read(inode, n, length);
    h.update(b);
    n += b.length;
    return b;
  };
  try {
    for (;;) {
      try {
        if (!(await next(READ)).length) break;
      } catch (e) {
        if (!ErofsError.isInstance(e)) throw e;
        while ((await next(PAGE)).length);
        break;
      }
    }
    return `${n} ok ${h.digest("hex")}`;
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return `${n} errno ${e.errno} ${h.digest("hex")}`;
  }
}

describe.skipIf(!corpus || process.getuid?.() !== 0)("pages a read gathers whose own maps fail", () => {
  it("corpus/real/app-a-deflate with word 31 of prettier/index.mjs's compact index changed (real mutant 533755): its DEFLATE extent maps over 107 pages from its first, but pages 56 on fail their maps; the file reads to page 56 and fails EOPNOTSUPP there, as on a kernel mount, where a whole decode of the extent failed it at byte 0", async () => {
    const image = join(corpus!, "real/app-a-deflate.erofs");
    const path = "prettier/index.mjs";
    const damagedBytes = await withCompactIndexWord(readFileSync(image), path, 31, 0x105d5a03, 0x20bab406);
    const damaged = join(work.path, "app-a-deflate-prettier-word-31.erofs");
    writeFileSync(damaged, damagedBytes);

    // Premises: from page 0 the extent is DEFLATE, over 100 pages, and its stream holds
    // more than 56 pages but less than the extent; page 56's map fails.
    const { map } = await compressedFile(damagedBytes, path);
    const first = await map(PAGE - 1);
    await expect(map(57 * PAGE - 1)).rejects.toSatisfy((e) => ErofsError.isInstance(e) && e.code === "EOPNOTSUPP");
    expect([first.algorithm, first.logical]).toEqual([COMPRESSION.DEFLATE, 0]);
    expect(first.length).toBeGreaterThan(100 * PAGE);
    const stream = inflateRawSync(damagedBytes.subarray(first.physical, first.physical + first.physicalLength), { finishFlush: zlib.Z_SYNC_FLUSH });
    expect(stream.length).toBeGreaterThan(56 * PAGE);
    expect(stream.length).toBeLessThan(first.length);

    const k = KernelMount.tryMount(damaged)!;
    let kernel: string[];
    try {
      kernel = [kernelUntilFailure(join(k.dir, path), false)];
    } finally {
      k.unmount();
    }
    const kRandom = KernelMount.tryMount(damaged)!;
    try {
      kernel.push(kernelUntilFailure(join(kRandom.dir, path), true));
    } finally {
      kRandom.unmount();
    }
    expect(kernel[0]).toMatch(new RegExp(`^${56 * PAGE} errno 95 `));
    expect(kernel[1]).toBe(kernel[0]);

    const ours = await mount(damaged);
    try {
      expect(await oursUntilFailure(ours, await ours.lookup(path))).toBe(kernel[0]);
    } finally {
      await ours.unmount();
    }
    // Page 0 alone, on a fresh mount: its read gathers the extent's pages as the first did.
    const one = await mount(damaged);
    try {
      const page0 = await one.read(await one.lookup(path), 0, PAGE);
      expect(Buffer.from(page0).equals(stream.subarray(0, PAGE))).toBe(true);
    } finally {
      await one.unmount();
    }
  });
});
