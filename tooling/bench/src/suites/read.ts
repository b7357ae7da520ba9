import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { KernelMount } from "@erofs-ts/testkit";
import { mount, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { MB, dropCaches, hostFiles, readAllHost, readAllVfs, timed, vfsFiles } from "../measure.js";
import { printTable, type Row } from "../report.js";

/**
 * Issue 2's benchmark: every file of real/app-a-plain read through the vfs and through a
 * kernel mount of the same image, both cold; and a stat of every entry of wide-plain.
 */
export async function readSuite(corpus: string): Promise<void> {
  const rows: Row[] = [];
  const image = join(corpus, "real/app-a-plain.erofs");

  dropCaches();
  const ours = await timed(async () => {
    const fs = await mount(image, { cacheBytes: 256 << 20 });
    const bytes = await readAllVfs(fs, await vfsFiles(fs));
    await fs.unmount();
    return bytes;
  });
  const kernel = KernelMount.tryMount(image);
  let peer: number | undefined;
  if (kernel) {
    const files = hostFiles(kernel.dir);
    dropCaches();
    const k = await timed(() => readAllHost(files));
    peer = k.value / MB / k.seconds;
    kernel.unmount();
  }
  rows.push({ workload: "read app-a-plain (cold)", ours: ours.value / MB / ours.seconds, peer, peerName: "kernel", unit: "MB/s", target: "≥ 0.5× kernel" });

  const wide = join(corpus, "wide-plain.erofs");
  dropCaches();
  const statOurs = await timed(async () => {
    const fs = await mount(wide);
    const n = await statEverything(fs, await fs.root());
    await fs.unmount();
    return n;
  });
  const wideKernel = KernelMount.tryMount(wide);
  let statPeer: number | undefined;
  if (wideKernel) {
    dropCaches();
    statPeer = (await timed(() => lstatEverything(wideKernel.dir))).seconds;
    wideKernel.unmount();
  }
  rows.push({ workload: `stat all ${statOurs.value} entries of wide-plain (cold)`, ours: statOurs.seconds, peer: statPeer, peerName: "kernel", unit: "s", higherIsBetter: false });
  printTable("read: uncompressed data and metadata", rows);
}

async function statEverything(fs: ErofsFs, dir: Inode): Promise<number> {
  let n = 1;
  for (const e of await fs.readdir(dir)) {
    const inode = await fs.iget(e.nid);
    fs.stat(inode);
    n += inode.kind === "dir" ? await statEverything(fs, inode) : 1;
  }
  return n;
}

function lstatEverything(dir: string): number {
  let n = 1;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    n += lstatSync(p).isDirectory() ? lstatEverything(p) : 1;
  }
  return n;
}
