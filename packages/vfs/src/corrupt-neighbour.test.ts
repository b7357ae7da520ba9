import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dumpExtents, hasCommand, ScratchDir } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

const tools = hasCommand("mkfs.erofs") && hasCommand("dump.erofs");
const PAGE = 4096;

const dir = new ScratchDir("vfs-neighbour-");
afterAll(dir.remove);

/**
 * A read fills whole extents, so the pages at an extent's ends (shared with its
 * neighbours) decode those neighbours too. The kernel decodes only the pclusters of the
 * pages it reads: with one pcluster corrupt, the pages of the others still read. So must
 * they here, whichever page a read starts at.
 */
describe.skipIf(!tools)("a corrupt pcluster fails only the pages holding its bytes", () => {
  it("pages of the extent before it read exactly, with and without the page cache; its own pages fail typed", async () => {
    const tree = join(dir.path, "tree");
    mkdirSync(tree);
    const lines = Array.from({ length: 6000 }, (_, i) => `line ${i}: ${"abcdefghij".repeat(1 + (i % 7))} ${i * 7919}\n`);
    const source = Buffer.from(lines.join(""));
    writeFileSync(join(tree, "text"), source);
    const image = join(dir.path, "img.erofs");
    execFileSync("mkfs.erofs", ["-zlz4", image, tree], { stdio: "ignore" });
    const ext = dumpExtents(image, "/text");
    // An extent k with a page wholly its own, before an extent k + 1 that gets corrupted.
    const k = ext.findIndex((e, i) => i + 1 < ext.length && Math.floor(e.logical[1] / PAGE) - Math.ceil(e.logical[0] / PAGE) >= 1);
    expect(k).toBeGreaterThanOrEqual(0);
    const own = Math.ceil(ext[k]!.logical[0] / PAGE);
    const next = ext[k + 1]!;
    const bytes = readFileSync(image);
    bytes.fill(0xff, next.physical[0], next.physical[1]);
    const bad = join(dir.path, "bad.erofs");
    writeFileSync(bad, bytes);

    for (const cache of [true, false]) {
      const fs = await mount(bad);
      try {
        const file = await fs.lookup("text");
        const got = await fs.read(file, own * PAGE, PAGE, { cache });
        expect(Buffer.from(got).equals(source.subarray(own * PAGE, own * PAGE + PAGE)), `page ${own}, cache ${cache}`).toBe(true);
        // The page holding the corrupt extent's first bytes cannot be right: a typed error.
        const failing = Math.floor(next.logical[0] / PAGE);
        const error = await fs.read(file, failing * PAGE, PAGE, { cache }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(ErofsError.isInstance(error) && ["EFSCORRUPTED", "EIO"].includes(error.code)).toBe(true);
      } finally {
        await fs.unmount();
      }
    }
  });
});
