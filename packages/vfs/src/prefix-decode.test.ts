import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadZInfo, mapCompressed, parseSuperblock } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

/**
 * A read of a few pages that ends inside a damaged DEFLATE pcluster, as a kernel mount
 * answers it: the kernel decodes that extent whole (READMORE) once the extent as mapped
 * for the read's last byte reaches a block, and only its prefix before that, so damage
 * past the prefix fails the second page of the extent but not the first.
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-prefix-decode-");
afterAll(work.remove);

/**
 * Each [offset, length] of a file on a kernel mount read with readahead off
 * (POSIX_FADV_RANDOM: the kernel reads just the pages asked for), as sha256 or "errno N".
 */
function kernelReads(path: string, ranges: Array<[number, number]>): string[] {
  const script = [
    "import hashlib, json, os, sys",
    "fd = os.open(sys.argv[1], os.O_RDONLY)",
    "os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)",
    "out = []",
    "for at, n in json.loads(sys.argv[2]):",
    "    try: out.append(hashlib.sha256(os.pread(fd, n, at)).hexdigest())",
    "    except OSError as e: out.append('errno %d' % e.errno)",
    "print(json.dumps(out))",
  ].join("\n");
  const r = spawnSync("/usr/bin/python3", ["-c", script, path, JSON.stringify(ranges)], { encoding: "utf8" });
  return JSON.parse(r.stdout) as string[];
}

describe.skipIf(!corpus)("a read ending inside a damaged pcluster, decoded as the kernel decodes it", () => {
  it("corpus/deflate with the second half of log.txt's second pcluster overwritten: each page reads or fails as on a kernel mount", async () => {
    const image = join(corpus!, "deflate.erofs");
    const sound = await mount(image);
    const file = await sound.lookup("/log.txt");
    const whole = await sound.read(file, 0, file.size);
    await sound.unmount();
    // Its second extent, mapped by the format package: ~20 KB from one 4 KiB pcluster.
    const bytes = Buffer.from(readFileSync(image));
    const sb = parseSuperblock(bytes);
    const read = async (o: number, l: number) => bytes.subarray(o, o + l);
    const z = await loadZInfo(file, sb, read);
    const first = await mapCompressed(file, sb, z, 0, read);
    const second = await mapCompressed(file, sb, z, first.logical + first.length, read);
    expect(second.kind).toBe("encoded");
    expect(second.length).toBeGreaterThan(3 * 4096);
    // The stream's second half (the extent's first pages come from its first 2 KiB).
    bytes.fill(0xff, second.physical + 2200, second.physical + second.physicalLength);
    const damaged = join(work.path, "deflate-half.erofs");
    writeFileSync(damaged, bytes);

    const page = 4096;
    const start = Math.floor(second.logical / page) * page;
    // The page the two extents share (the second mapped for less than a block there: its
    // prefix), the next (a block or more: decoded whole, and failed), the extent's last.
    const ranges: Array<[number, number]> = [[start, page], [start + page, page], [Math.floor((second.logical + second.length - 1) / page) * page, page]];
    const ours: string[] = [];
    for (const [at, n] of ranges) {
      // A fresh mount per read: nothing decoded before helps.
      const one = await mount(damaged);
      try {
        ours.push(sha256Hex([await one.read(await one.lookup("/log.txt"), at, n)]));
      } catch (e) {
        if (!ErofsError.isInstance(e)) throw e;
        ours.push(`errno ${e.errno}`);
      } finally {
        await one.unmount();
      }
    }
    expect(ours).toEqual([sha256Hex([whole.subarray(start, start + page)]), "errno 117", "errno 117"]);
    const kernel = KernelMount.tryMount(damaged);
    if (kernel) {
      try {
        expect(ours).toEqual(kernelReads(join(kernel.dir, "log.txt"), ranges));
      } finally {
        kernel.unmount();
      }
    }
  });
});
