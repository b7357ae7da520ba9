import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, loadManifest, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

/**
 * composefs's use of EROFS: an image of metadata only, whose files name their content in
 * overlayfs's redirect xattr, mounted as overlayfs's metadata layer over a data-only layer
 * that holds the content by digest (`lowerdir=META::DATA`, `metacopy=on`). Through
 * erofs-fuse the overlay must read as it does over the kernel's erofs: names, modes,
 * sizes, targets and content, the content coming from the data layer.
 */
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const work = new ScratchDir("erofs-fuse-composefs-");
afterAll(work.remove);

const REDIRECT = "trusted.overlay.redirect";

/** The data layer: for each file the image redirects, a file at that path of the file's size, with bytes of its own. */
function dataLayer(manifest: string, dir: string): Map<string, string> {
  const digests = new Map<string, string>();
  for (const e of loadManifest(manifest).entries) {
    const target = e.xattrs[REDIRECT];
    if (e.type !== "file" || target === undefined) continue;
    const rel = Buffer.from(target, "base64").toString();
    const bytes = Buffer.alloc(e.size);
    for (let at = 0, block = 0; at < e.size; at += 32, block++) createHash("sha256").update(`${rel}:${block}`).digest().copy(bytes, at);
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
    digests.set(typeof e.path === "string" ? e.path : Buffer.from(e.path.b64, "base64").toString(), createHash("sha256").update(bytes).digest("hex"));
  }
  return digests;
}

/**
 * Every entry under `root`, sorted: type and mode, size, owner, symlink target, content's
 * sha256; a failed call as its error code (overlayfs fails a metacopy file whose data it
 * cannot find, as the fixture's file without a payload is: EIO on both mounts).
 */
function walk(root: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    try {
      const st = lstatSync(p);
      let what = `${st.mode.toString(8)} ${st.size} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) what += ` -> ${readlinkSync(p)}`;
      if (st.isFile()) what += ` ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
      seen.set(rel, what);
      if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(rel ? `${rel}/${n}` : n);
    } catch (e) {
      seen.set(rel, (e as NodeJS.ErrnoException).code ?? String(e));
    }
  };
  visit("");
  return seen;
}

function mountOverlay(meta: string, data: string, at: string): boolean {
  mkdirSync(at, { recursive: true });
  return spawnSync("mount", ["-t", "overlay", "overlay", "-o", `ro,lowerdir=${meta}::${data},metacopy=on,redirect_dir=on`, at]).status === 0;
}

describe.skipIf(!FUSE_AVAILABLE)("a composefs image through erofs-fuse as overlayfs's metadata layer", () => {
  for (const name of ["composefs-v0", "composefs-v1"]) {
    it(`${name}: the overlay reads as over the kernel's erofs, each redirected file's content from the data layer`, async (ctx) => {
      const image = join(repoRoot(), "fixtures", `${name}.erofs`);
      const data = join(work.path, `${name}-data`);
      const digests = dataLayer(join(repoRoot(), "fixtures", `${name}.manifest.json`), data);
      const kernel = KernelMount.tryMount(image);
      if (!kernel) return ctx.skip();
      const overKernel = join(work.path, `${name}-over-kernel`);
      const overFuse = join(work.path, `${name}-over-fuse`);
      let daemon: FuseDaemon | null = null;
      const mounted: string[] = [];
      try {
        // A kernel without overlayfs (or without data-only layers, before 6.5) has nothing to compare against.
        if (!mountOverlay(kernel.dir, data, overKernel)) return ctx.skip();
        mounted.push(overKernel);
        daemon = await FuseDaemon.start([{ image }]);
        expect(mountOverlay(daemon.mountpoints[0]!, data, overFuse)).toBe(true);
        mounted.push(overFuse);
        const expected = walk(overKernel);
        expect(walk(overFuse)).toEqual(expected);
        // The content came through the redirects: each such file holds its data-layer bytes.
        expect(digests.size).toBeGreaterThanOrEqual(2);
        for (const [path, sha] of digests) expect(expected.get(path), path).toMatch(new RegExp(` ${sha}$`));
      } finally {
        for (const m of mounted.reverse()) execFileSync("umount", [m]);
        kernel.unmount();
        await daemon?.stop();
      }
    });
  }
});
