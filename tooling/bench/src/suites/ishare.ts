import { join } from "node:path";
import { PageCache } from "@erofs-ts/ishare-cache";
import { mount } from "@erofs-ts/vfs";
import { MB, dropCaches, readAllVfs, timed, vfsFiles } from "../measure.js";
import { printTable, type Row } from "../report.js";

/** From the corpus README: content of app-a + app-b, and what perfect sharing leaves. */
const CONTENT_MB = 154.2;
const SHARED_LIMIT_MB = 105.7;

interface TwoTrees {
  cacheMB: number;
  firstSeconds: number;
  secondSeconds: number;
  sharedMB: number;
  bytes: number;
}

/** Reads all of app-a, then all of app-b, through one cache; cold page cache at the start. */
async function readBoth(corpus: string, inodeShare: boolean, parallel: number): Promise<TwoTrees> {
  const cache = new PageCache({ budgetBytes: 1 << 30 });
  const options = { cache, inodeShare, domainId: "bench" };
  dropCaches();
  const a = await mount(join(corpus, "real/app-a.erofs"), options);
  const b = await mount(join(corpus, "real/app-b.erofs"), options);
  const first = await timed(async () => readAllVfs(a, await vfsFiles(a), parallel));
  const second = await timed(async () => readAllVfs(b, await vfsFiles(b), parallel));
  const stats = cache.stats();
  await a.unmount();
  await b.unmount();
  return {
    cacheMB: stats.bytes / MB,
    firstSeconds: first.seconds,
    secondSeconds: second.seconds,
    sharedMB: stats.sharedBytesServed / MB,
    bytes: first.value + second.value,
  };
}

/**
 * Issue 4's benchmark: app-a then app-b through one page cache, with and without
 * inode_share; cache bytes against the corpus's content limits, and read times.
 */
export async function ishareSuite(corpus: string, parallel: number): Promise<void> {
  const plain = await readBoth(corpus, false, parallel);
  const shared = await readBoth(corpus, true, parallel);
  const rows: Row[] = [
    { workload: "cache after app-a + app-b, no sharing", ours: plain.cacheMB, peer: CONTENT_MB, peerName: "content", unit: "MB", higherIsBetter: false },
    {
      workload: "cache after app-a + app-b, inode_share",
      ours: shared.cacheMB,
      peer: SHARED_LIMIT_MB,
      peerName: "perfect sharing",
      unit: "MB",
      higherIsBetter: false,
      target: "within 2% of 105.7 MB",
    },
    { workload: "read app-a (first tree)", ours: shared.firstSeconds, peer: plain.firstSeconds, peerName: "no sharing", unit: "s", higherIsBetter: false, target: "not slower" },
    { workload: "read app-b (second tree)", ours: shared.secondSeconds, peer: plain.secondSeconds, peerName: "no sharing", unit: "s", higherIsBetter: false, target: "≥ 1.3× faster" },
  ];
  printTable("ishare: two trees through one page cache", rows);
  const saved = 1 - shared.cacheMB / plain.cacheMB;
  console.log(
    `sharing saved ${(saved * 100).toFixed(1)}% of cache (limit ${((1 - SHARED_LIMIT_MB / CONTENT_MB) * 100).toFixed(1)}%); ` +
      `${shared.sharedMB.toFixed(1)} MB of app-b served from pages app-a filled; ${(shared.bytes / MB).toFixed(1)} MB read in all`,
  );
}
