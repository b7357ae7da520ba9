import { execFileSync } from "node:child_process";
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, waitFor } from "./harness.js";
import { nativePart } from "../protocol/device.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);
const NATIVE = nativePart() !== null;
if (!NATIVE) console.log("image_cache test skipped: the native part (fadvise) is not built");

/** Bytes of a file resident in the kernel's page cache. */
function resident(path: string): number {
  return Number(execFileSync("fincore", ["--bytes", "--noheadings", "--output", "RES", path], { encoding: "utf8" }).trim());
}

function readTree(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) n += readTree(p);
    else if (st?.isFile()) n += readFileSync(p).length;
  }
  return n;
}

/**
 * image_cache: by default what the daemon reads from an image leaves the OS page cache (its
 * decoded form is cached already); image_cache=keep leaves the kernel to decide. Each run
 * uses a private copy of the image, so no other test's reads count.
 */
describe.skipIf(!FUSE_AVAILABLE || !corpus || !NATIVE)("erofs-fuse image_cache", () => {
  let daemon: FuseDaemon | null = null;
  let work = "";
  afterEach(async () => {
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
    daemon = null;
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A copy of app-a-lz4 with none of its pages cached, read whole through a mount. */
  async function readThroughMount(daemonOptions: string[]): Promise<{ image: string; size: number; read: number }> {
    work = mkdtempSync(join(tmpdir(), "erofs-image-cache-"));
    const image = join(work, "app-a-lz4.erofs");
    copyFileSync(join(corpus!, "real/app-a-lz4.erofs"), image);
    const fd = openSync(image, "r");
    fsyncSync(fd);
    closeSync(fd);
    // GNU dd with count=0 and iflag=nocache drops the whole file's pages.
    execFileSync("dd", [`if=${image}`, "iflag=nocache", "count=0"], { stdio: "ignore" });
    expect(resident(image)).toBeLessThan(statSync(image).size / 10);
    daemon = await FuseDaemon.start([{ image }], daemonOptions);
    const read = readTree(daemon.mountpoints[0]!);
    return { image, size: statSync(image).size, read };
  }

  it("drops the image's pages once read, by default: each read's at once, the rest once idle", async () => {
    const { image, size, read } = await readThroughMount([]);
    expect(read).toBeGreaterThan(size);
    // Right after reading, at most what the kernel read ahead of the daemon is left...
    expect(resident(image)).toBeLessThan(size * 0.75);
    // ...and the sweep after a second or two without requests drops that too.
    await waitFor(() => resident(image) < size / 50, 10_000, "the idle sweep of the image's pages");
  });

  it("keeps them with image_cache=keep", async () => {
    const { image, size, read } = await readThroughMount(["-o", "image_cache=keep"]);
    expect(read).toBeGreaterThan(size);
    expect(resident(image)).toBeGreaterThan(size / 2);
  });
});
