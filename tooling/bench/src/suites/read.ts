import { join } from "node:path";
import { KernelMount } from "@erofs-ts/testkit";
import { dropCaches } from "../measure.js";
import { printTable, type Row } from "../report.js";
import type { Runner } from "../runner-client.js";
import { coldRow } from "./decode.js";

/**
 * Issue 2's benchmark: every file of real/app-a-plain read through the vfs and through a
 * kernel mount of the same image, both cold; and a stat of every entry of wide-plain.
 */
export async function readSuite(runner: Runner, corpus: string): Promise<void> {
  const rows: Row[] = [];
  const image = join(corpus, "real/app-a-plain.erofs");
  rows.push(await coldRow(runner, image, 1, "read app-a-plain (cold)", "≥ 0.5× kernel"));

  const wide = join(corpus, "wide-plain.erofs");
  dropCaches();
  const statOurs = await runner.run("vfsStat", { image: wide });
  const wideKernel = KernelMount.tryMount(wide);
  let statPeer: number | undefined;
  if (wideKernel) {
    try {
      dropCaches();
      statPeer = (await runner.run("hostStat", { dir: wideKernel.dir })).seconds;
    } finally {
      wideKernel.unmount();
    }
  }
  rows.push({ workload: `stat all ${statOurs.value} entries of wide-plain (cold)`, ours: statOurs.seconds, peer: statPeer, peerName: "kernel", unit: "s", higherIsBetter: false });
  printTable("read: uncompressed data and metadata", rows);
}
