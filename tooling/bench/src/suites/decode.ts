import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasCommand, KernelMount, repoRoot } from "@erofs-ts/testkit";
import { MB, commandSeconds, dropCaches, hostFiles, median, runsText } from "../measure.js";
import { printTable, type Row } from "../report.js";
import type { Runner } from "../runner-client.js";

const VARIANTS: Array<{ image: string; label: string; target: string }> = [
  { image: "real/app-a-plain.erofs", label: "plain", target: "≥ 0.5× kernel" },
  { image: "real/app-a-lz4.erofs", label: "lz4", target: "≥ 500 MB/s" },
  { image: "real/app-a.erofs", label: "lz4hc", target: "≥ 500 MB/s" },
  { image: "real/app-a-lzma.erofs", label: "lzma", target: "≥ 1× kernel" },
  { image: "real/app-a-zstd.erofs", label: "zstd", target: "≥ 1× kernel" },
  { image: "real/app-a-deflate.erofs", label: "deflate", target: "≥ 1× kernel" },
];

/** Reads every file of an image through the vfs, cold; MB/s of file content. */
export async function vfsColdMBps(runner: Runner, image: string, options: { devices?: string[]; parallel?: number; cache?: boolean; mountUntimed?: boolean } = {}): Promise<number> {
  dropCaches();
  const r = await runner.run("vfsRead", { image, ...options });
  return r.value / MB / r.seconds;
}

/** Reads these host files whole with the page cache dropped first; MB/s. */
export async function hostColdMBps(runner: Runner, files: string[]): Promise<number> {
  dropCaches();
  const r = await runner.run("hostRead", { files });
  return r.value / MB / r.seconds;
}

/** Reads every file of a kernel mount of the image, cold; undefined without root. */
export async function kernelColdMBps(runner: Runner, image: string): Promise<number | undefined> {
  const k = KernelMount.tryMount(image);
  if (!k) return undefined;
  try {
    return await hostColdMBps(runner, hostFiles(k.dir));
  } finally {
    k.unmount();
  }
}

/**
 * Issue 3's benchmark: every file of each app-a variant through the vfs and through the
 * kernel (cold), and an lz4 image made by Debian's mkfs.erofs from the same tree, decoded
 * whole by Debian's `fsck.erofs --extract` and by the vfs without keeping pages (as fsck).
 */
export async function decodeSuite(runner: Runner, corpus: string, parallel: number): Promise<void> {
  const rows: Row[] = [];
  for (const v of VARIANTS) {
    const image = join(corpus, v.image);
    rows.push(await coldRow(runner, image, parallel, `${v.label} (${v.image})`, v.target));
  }
  rows.push(...(await fsckComparison(runner, join(corpus, "real/app-a-plain.erofs"), parallel)));
  printTable(`decode: every file, cold page cache${parallel > 1 ? `, ${parallel} files at a time` : ""}`, rows);
}

/**
 * Runs per cold row. The first runs of each image pay for compiling the code paths that
 * image takes (JIT) and for memory the process has not grown into yet (thousands of page
 * faults at 12-20 µs each): 100-150 ms more read time than later runs, measured on every
 * row. And on this VM single runs vary by ±30%: five keep the median off both.
 */
const COLD_RUNS = 5;

/**
 * A row of COLD_RUNS cold reads of an image through the vfs and through the kernel,
 * interleaved, each from a dropped page cache: the medians, and every run of ours. Both
 * sides are timed from a mounted image to its last byte read: the kernel's mount and
 * umount run outside its timer, and so do the vfs's. The walk to every file is inside
 * both: the kernel's path lookups (its dentries and inodes dropped with the page cache),
 * the vfs's readdir and iget of a fresh mount. The runner process lives on from run to
 * run, as a service would: its first run of the bench also pays for compiling the read
 * path (JIT), which the runs listed show apart.
 */
export async function coldRow(runner: Runner, image: string, parallel: number, workload: string, target: string): Promise<Row> {
  const ours: number[] = [];
  const kernel: number[] = [];
  for (let run = 0; run < COLD_RUNS; run++) {
    // Timed as the kernel's runs are: from a mounted image to its last byte read.
    ours.push(await vfsColdMBps(runner, image, { parallel, mountUntimed: true }));
    const k = await kernelColdMBps(runner, image);
    if (k !== undefined) kernel.push(k);
  }
  return {
    workload: `${workload}, median of ${COLD_RUNS}`,
    ours: median(ours),
    peer: kernel.length ? median(kernel) : undefined,
    peerName: "kernel",
    unit: "MB/s",
    // The kernel's runs too: this VM's phases move both sides, and a pair of runs side by side shows it.
    target: `${target}; ours ${runsText(ours)}${kernel.length ? `; kernel ${runsText(kernel)}` : ""}`,
  };
}

/**
 * Runs of the fsck row. Each side takes 40-80 ms a run, where this VM's swings are
 * largest: fsck.erofs's median of 5 measured 966 and 1794 MB/s in two runs of the bench
 * on the same day. Eleven runs cost ~6 s.
 */
const FSCK_RUNS = 11;

async function fsckComparison(runner: Runner, plainImage: string, parallel: number): Promise<Row[]> {
  if (!hasCommand("mkfs.erofs") || !hasCommand("fsck.erofs")) {
    return [{ workload: "lz4 (mkfs.erofs 1.5) decode", ours: 0, peerName: "fsck.erofs not installed", unit: "MB/s" }];
  }
  const work = mkdtempSync(join(tmpdir(), "erofs-bench-"));
  try {
    // The same tree as app-a: the plain image's content, copied out through the kernel.
    const tree = join(work, "tree");
    const k = KernelMount.tryMount(plainImage);
    if (!k) return [{ workload: "lz4 (mkfs.erofs 1.5) decode", ours: 0, peerName: "needs root", unit: "MB/s" }];
    try {
      execFileSync("cp", ["-a", k.dir, tree]);
    } finally {
      k.unmount();
    }
    const image = join(work, "app-a-lz4-debian.erofs");
    execFileSync("mkfs.erofs", ["-zlz4", image, tree], { stdio: "ignore" });
    const bytes = hostFiles(tree).reduce((sum, f) => sum + statSync(f).size, 0);
    rmSync(tree, { recursive: true, force: true });
    const fsck: number[] = [];
    const ours: number[] = [];
    const cli: number[] = [];
    const cliEntry = join(repoRoot(), "apps/cli/dist/main.js");
    for (let run = 0; run < FSCK_RUNS; run++) {
      dropCaches();
      fsck.push(bytes / MB / commandSeconds("fsck.erofs", ["--extract", image]));
      // fsck.erofs decodes and keeps nothing: the vfs side reads the same way (erofs-cli fsck's reads).
      ours.push(await vfsColdMBps(runner, image, { parallel, cache: false }));
      // The command a user types, timed as fsck.erofs is: from a shell's exec to its exit.
      dropCaches();
      cli.push(bytes / MB / commandSeconds(process.execPath, [cliEntry, "fsck", image]));
    }
    return [
      {
        workload: `lz4 image by mkfs.erofs 1.5: decode all, no page cache, median of ${FSCK_RUNS}`,
        ours: median(ours),
        peer: median(fsck),
        peerName: "fsck.erofs --extract",
        unit: "MB/s",
        target: `≥ 0.7× fsck.erofs; ours ${runsText(ours)}; fsck.erofs ${runsText(fsck)}`,
      },
      {
        workload: `the same, \`erofs-cli fsck\` as a process (Node's start-up and compiling the read path included), median of ${FSCK_RUNS}`,
        ours: median(cli),
        peer: median(fsck),
        peerName: "fsck.erofs --extract",
        unit: "MB/s",
        target: `no target: what one command costs; ours ${runsText(cli)}`,
      },
    ];
  } finally {
    if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}
