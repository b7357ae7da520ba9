import { join } from "node:path";
import { MB, RUNS, dropCaches, median, runsText } from "../measure.js";
import { printTable, type Row } from "../report.js";
import type { Runner } from "../runner-client.js";
import type { TwoTrees } from "../runner.js";

/** From the corpus README: content of app-a + app-b, and what perfect sharing leaves. */
const CONTENT_MB = 154.2;
const SHARED_LIMIT_MB = 105.7;

/** Reads all of app-a, then all of app-b, through one cache; cold page cache at the start. */
function readBoth(runner: Runner, corpus: string, inodeShare: boolean, parallel: number): Promise<TwoTrees> {
  dropCaches();
  return runner.run("twoTrees", { first: join(corpus, "real/app-a.erofs"), second: join(corpus, "real/app-b.erofs"), inodeShare, parallel });
}

/**
 * Issue 4's benchmark: app-a then app-b through one page cache, with and without
 * inode_share; cache bytes against the corpus's content limits, and read times.
 */
export async function ishareSuite(runner: Runner, corpus: string, parallel: number): Promise<void> {
  // RUNS of each, interleaved; times are medians (cache sizes are the same every run).
  const plains: TwoTrees[] = [];
  const shares: TwoTrees[] = [];
  for (let run = 0; run < RUNS; run++) {
    plains.push(await readBoth(runner, corpus, false, parallel));
    shares.push(await readBoth(runner, corpus, true, parallel));
  }
  const plain = plains[0]!;
  const shared = shares[0]!;
  const time = (of: TwoTrees[], pick: (t: TwoTrees) => number) => median(of.map(pick));
  const seconds = (of: TwoTrees[], pick: (t: TwoTrees) => number) => `${runsText(of.map(pick), 2)} s`;
  const first = (t: TwoTrees) => t.firstSeconds;
  const second = (t: TwoTrees) => t.secondSeconds;
  const rows: Row[] = [
    { workload: "cache after app-a + app-b, no sharing", ours: plain.cacheBytes / MB, peer: CONTENT_MB, peerName: "content", unit: "MB", higherIsBetter: false },
    {
      workload: "cache after app-a + app-b, inode_share",
      ours: shared.cacheBytes / MB,
      peer: SHARED_LIMIT_MB,
      peerName: "perfect sharing",
      unit: "MB",
      higherIsBetter: false,
      target: "within 2% of 105.7 MB",
    },
    {
      workload: `read app-a (first tree), median of ${RUNS}`,
      ours: time(shares, first),
      peer: time(plains, first),
      peerName: "no sharing",
      unit: "s",
      higherIsBetter: false,
      target: `not slower; ours ${seconds(shares, first)}, no sharing ${seconds(plains, first)}`,
    },
    {
      workload: `read app-b (second tree), median of ${RUNS}`,
      ours: time(shares, second),
      peer: time(plains, second),
      peerName: "no sharing",
      unit: "s",
      higherIsBetter: false,
      target: `≥ 1.3× faster; ours ${seconds(shares, second)}, no sharing ${seconds(plains, second)}`,
    },
  ];
  printTable("ishare: two trees through one page cache", rows);
  const saved = 1 - shared.cacheBytes / plain.cacheBytes;
  console.log(
    `sharing saved ${(saved * 100).toFixed(1)}% of cache (limit ${((1 - SHARED_LIMIT_MB / CONTENT_MB) * 100).toFixed(1)}%); ` +
      `${(shared.sharedBytes / MB).toFixed(1)} MB of app-b served from pages app-a filled; ${(shared.bytes / MB).toFixed(1)} MB read in all`,
  );
}
