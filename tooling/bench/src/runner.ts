/**
 * The bench's timed workloads, run in a child process that never starts a process itself.
 *
 * Why: fork(2) write-protects every page of the process that forks (copy-on-write), and
 * each page written afterwards takes a fault to become writable again. On this VM a page
 * fault costs ~11 µs, so a single `execFileSync("sync")` before a pass halved the
 * measured speed of the in-process reader (its V8 heap, WebAssembly memories and cached
 * pages all fault again): app-a-zstd read at 64–77 MB/s after a fork and 150–190 MB/s
 * without one. The bench's own process mounts, drops caches and runs the peers; what is
 * timed runs here, for erofs-ts and the kernel alike, and stays JIT-warm across suites.
 */
import { lstatSync, readdirSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { PageCache } from "@erofs-ts/ishare-cache";
import { mount, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { readAllHost, readAllVfs, timed, vfsFiles, type Timed } from "./measure.js";

export interface TwoTrees {
  cacheBytes: number;
  firstSeconds: number;
  secondSeconds: number;
  sharedBytes: number;
  bytes: number;
}

/** Each job's argument and result; results are plain data (they cross the IPC channel). */
export interface Jobs {
  /**
   * Every file of an image through the vfs, page cache on unless `cache` is false: bytes
   * read. The vfs reads its image as erofs-cli does (syncReads). The mount and the unmount
   * are timed too, unless `mountUntimed`: then, as a kernel row's timer, only the walk
   * (readdir and iget of every entry, the kernel's lookups) and the reads.
   */
  vfsRead: { args: { image: string; devices?: string[]; parallel?: number; cache?: boolean; mountUntimed?: boolean }; result: Timed<number> };
  /** These host files read whole with read(2): bytes read. */
  hostRead: { args: { files: string[] }; result: Timed<number> };
  /** iget + stat of every entry of an image (mount included, read as erofs-cli reads): entries. */
  vfsStat: { args: { image: string }; result: Timed<number> };
  /** lstat of every entry under a host directory: entries. */
  hostStat: { args: { dir: string }; result: Timed<number> };
  /** statfs(2) of a path `count` times: calls made. */
  hostStatfs: { args: { path: string; count: number }; result: Timed<number> };
  /** Two images read whole, one after the other, through one page cache. */
  twoTrees: { args: { first: string; second: string; inodeShare: boolean; parallel: number }; result: TwoTrees };
}

export type JobName = keyof Jobs;

const handlers: { [K in JobName]: (args: Jobs[K]["args"]) => Promise<Jobs[K]["result"]> } = {
  vfsRead: async ({ image, devices, parallel, cache, mountUntimed }) => {
    const open = () => mount(image, { devices, cacheBytes: 256 << 20, syncReads: true });
    const readAll = async (fs: ErofsFs) => readAllVfs(fs, await vfsFiles(fs), parallel, cache);
    if (!mountUntimed) {
      return timed(async () => {
        const fs = await open();
        const bytes = await readAll(fs);
        await fs.unmount();
        return bytes;
      });
    }
    const fs = await open();
    try {
      return await timed(() => readAll(fs));
    } finally {
      await fs.unmount();
    }
  },
  hostRead: async ({ files }) => timed(() => readAllHost(files)),
  vfsStat: ({ image }) =>
    timed(async () => {
      const fs = await mount(image, { syncReads: true });
      const n = await statEverything(fs, await fs.root());
      await fs.unmount();
      return n;
    }),
  hostStat: async ({ dir }) => timed(() => lstatEverything(dir)),
  hostStatfs: async ({ path, count }) =>
    timed(() => {
      for (let i = 0; i < count; i++) statfsSync(path);
      return count;
    }),
  twoTrees: readTwoTrees,
};

async function readTwoTrees({ first, second, inodeShare, parallel }: Jobs["twoTrees"]["args"]): Promise<TwoTrees> {
  const cache = new PageCache({ budgetBytes: 1 << 30 });
  const options = { cache, inodeShare, domainId: "bench" };
  const a = await mount(first, options);
  const b = await mount(second, options);
  const one = await timed(async () => readAllVfs(a, await vfsFiles(a), parallel));
  const two = await timed(async () => readAllVfs(b, await vfsFiles(b), parallel));
  const stats = cache.stats();
  await a.unmount();
  await b.unmount();
  return { cacheBytes: stats.bytes, firstSeconds: one.seconds, secondSeconds: two.seconds, sharedBytes: stats.sharedBytesServed, bytes: one.value + two.value };
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

export interface JobRequest {
  id: number;
  name: JobName;
  args: unknown;
}

export type JobReply = { id: number; result: unknown } | { id: number; error: string };

process.on("message", (m: JobRequest) => {
  const run = handlers[m.name] as (args: unknown) => Promise<unknown>;
  run(m.args).then(
    (result) => process.send!({ id: m.id, result } satisfies JobReply),
    (e: unknown) => process.send!({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies JobReply),
  );
});
// The channel keeps this process alive; it ends when the bench disconnects.
process.on("disconnect", () => process.exit(0));
