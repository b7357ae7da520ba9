import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelMount, processAlive, repoRoot } from "@erofs-ts/testkit";
import { MB, RUNS, commandSeconds, dropCaches, hostFiles, median, readAllHost, runsText } from "../measure.js";
import { printTable, type Row } from "../report.js";
import type { Runner } from "../runner-client.js";
import { hostColdMBps, kernelColdMBps } from "./decode.js";

const ENTRY = () => join(repoRoot(), "apps/fuse/bin/erofs-fuse.cjs");

/** Upstream erofsfuse 1.9.3 on this machine (issue 5), MB/s: the goal is 1.5× these. */
const EROFSFUSE_REFERENCE: Record<string, number> = {
  "app-a-plain": 119,
  "app-a-lz4": 177,
  "app-a": 167,
  "app-a-lzma": 50,
  "app-a-zstd": 129,
  "app-a-deflate": 118,
};

/**
 * A command line that runs on `cpus` only (taskset; a daemon it starts inherits that), or
 * as it is without.
 */
function onCpus(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [command, args] : ["taskset", ["-c", cpus, command, ...args]];
}

/** A background erofs-fuse serving `pairs` (on `cpus` only, if given); returns its mountpoints, pid and a stop function. */
function startDaemon(pairs: { image: string; options?: string }[], cpus?: string): { mounts: string[]; pid: number; stop: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "erofs-bench-fuse-"));
  const args = [ENTRY(), "--pidfile", join(dir, "pid"), "-o", "cache_size=1G"];
  const mounts = pairs.map((p, i) => {
    const m = join(dir, `m${i}`);
    mkdirSync(m);
    if (p.options) args.push("-o", p.options);
    args.push(p.image, m);
    return m;
  });
  const r = spawnSync(...onCpus(cpus, process.execPath, args), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`erofs-fuse: ${r.stderr}`);
  const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
  const stop = () => {
    for (const m of mounts) spawnSync("umount", [m]);
    for (let i = 0; i < 200 && processAlive(pid); i++) execFileSync("sleep", ["0.05"]);
    rmSync(dir, { recursive: true, force: true });
  };
  return { mounts, pid, stop };
}

/**
 * Upstream's erofsfuse, when there is one to run (EROFSFUSE=path, or on PATH): the same
 * walk through it in the same run. Debian 12 does not package it; built from erofs-utils'
 * sources it is `fuse/erofsfuse`.
 */
function erofsfuseBinary(): string | undefined {
  const named = process.env.EROFSFUSE;
  if (named) return existsSync(named) ? named : undefined;
  const found = spawnSync("sh", ["-c", "command -v erofsfuse"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** erofsfuse serving `image` (it daemonizes; on `cpus` only, if given); stop() unmounts it. */
function startErofsfuse(binary: string, image: string, cpus?: string): { mount: string; stop: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "erofs-bench-erofsfuse-"));
  const r = spawnSync(...onCpus(cpus, binary, [image, dir]), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`erofsfuse: ${r.stderr}`);
  return {
    mount: dir,
    stop: () => {
      spawnSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** MB/s of each run's walks through one daemon. */
interface Walks {
  first: number[];
  second: number[];
}

/**
 * Two cold walks through one FUSE daemon: the first is what a fresh daemon does (for
 * erofs-fuse, V8 compiles the hot path during it); the second has the kernel's caches
 * dropped again, but a daemon that has run.
 */
async function walkTwice(runner: Runner, mount: string, into: Walks): Promise<void> {
  const files = hostFiles(mount);
  into.first.push(await hostColdMBps(runner, files));
  into.second.push(await hostColdMBps(runner, files));
}

/** walkTwice through a daemon just started (the reader on `readerCpus` only, if given), which is then stopped. */
async function walkTwiceThenStop(runner: Runner, daemon: { mount: string; stop: () => void }, into: Walks, readerCpus?: string): Promise<void> {
  try {
    if (readerCpus === undefined) await walkTwice(runner, daemon.mount, into);
    else await withReaderOn(runner, readerCpus, () => walkTwice(runner, daemon.mount, into));
  } finally {
    daemon.stop();
  }
}

/** "Cached:" of /proc/meminfo in bytes: the kernel's page cache. */
function pageCacheBytes(): number {
  const m = /^Cached:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return Number(m![1]) * 1024;
}

function rssBytes(pid: number, field: "VmRSS" | "RssAnon" = "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

/** Bytes of these files resident in the kernel's page cache (fincore), in batches of 500. */
function residentBytes(files: string[]): number {
  let total = 0;
  for (let i = 0; i < files.length; i += 500) {
    const out = execFileSync("fincore", ["--bytes", "--noheadings", "--output", "RES", ...files.slice(i, i + 500)], { encoding: "utf8", maxBuffer: 1 << 26 });
    for (const line of out.split("\n")) if (line.trim()) total += Number(line.trim());
  }
  return total;
}

/**
 * Issue 5's benchmark: every file of each real/app-a-* image through erofs-fuse and
 * through a kernel mount, cold; `ls -lR` of wide-plain and one request's cost (see
 * listingRows); app-a-lz4 with the reader and the daemon pinned (placementSuite); and the
 * memory of app-a + app-b through two mounts with and without inode_share (kernel page
 * cache growth + daemon RSS).
 */
export async function fuseSuite(runner: Runner, corpus: string): Promise<void> {
  const rows: Row[] = [];
  const upstream: Row[] = [];
  const erofsfuse = erofsfuseBinary();
  for (const name of ["app-a-plain", "app-a-lz4", "app-a", "app-a-lzma", "app-a-zstd", "app-a-deflate"]) {
    const image = join(corpus, "real", `${name}.erofs`);
    // Each side RUNS times (a fresh daemon, a fresh kernel mount each time).
    const ours: Walks = { first: [], second: [] };
    const theirs: Walks = { first: [], second: [] };
    const kernel: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const d = startDaemon([{ image }]);
      await walkTwiceThenStop(runner, { mount: d.mounts[0]!, stop: d.stop }, ours);
      const k = await kernelColdMBps(runner, image);
      if (k !== undefined) kernel.push(k);
      if (erofsfuse) await walkTwiceThenStop(runner, startErofsfuse(erofsfuse, image), theirs);
    }
    for (const walk of ["first", "second"] as const) {
      if (!theirs[walk].length) continue;
      upstream.push({
        workload: `read ${name}, ${walk} walk of a daemon (cold page cache, median of ${RUNS})`,
        ours: median(ours[walk]),
        peer: median(theirs[walk]),
        peerName: "erofsfuse",
        unit: "MB/s",
        target: `≥ 1.5× erofsfuse; ours ${runsText(ours[walk])}, theirs ${runsText(theirs[walk])}`,
      });
    }
    const ref = EROFSFUSE_REFERENCE[name]!;
    const mbps = median(ours.first);
    rows.push({
      workload: `read ${name} (cold, median of ${RUNS})`,
      ours: mbps,
      peer: kernel.length ? median(kernel) : undefined,
      peerName: "kernel",
      unit: "MB/s",
      target: `≥ ${(1.5 * ref).toFixed(0)} (1.5× erofsfuse ${ref}): ${(mbps / ref).toFixed(2)}× erofsfuse; ${runsText(ours.first)}`,
    });
  }

  const listing = await listingRows(runner, corpus, erofsfuse);
  printTables([...rows, ...listing.kernel], [...upstream, ...listing.upstream], erofsfuse);
  await placementSuite(runner, corpus);
  memoryTable(corpus);
}

/** The image of the placement rows: the lz4 row above, where round trips weigh most. */
const PLACEMENT_IMAGE = "app-a-lz4";

/** The CPUs online, from the kernel's list ("0-1", "0,2-3"); none where the list cannot be read. */
function onlineCpuList(): number[] {
  let list: string;
  try {
    list = readFileSync("/sys/devices/system/cpu/online", "utf8");
  } catch {
    return [];
  }
  const cpus: number[] = [];
  for (const part of list.trim().split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    for (let c = from!; c <= to!; c++) cpus.push(c);
  }
  return cpus;
}

/** Where the reader (the bench's runner) and the daemon run in placementSuite: on one CPU, and on two. */
function placements([a, b]: number[]): { label: string; reader: string; daemon: string }[] {
  return [
    { label: `reader and daemon on one vCPU (${a})`, reader: `${a}`, daemon: `${a}` },
    { label: `reader on vCPU ${b}, daemon on vCPU ${a}`, reader: `${b}`, daemon: `${a}` },
  ];
}

/**
 * Cold walks through each daemon with the reader and the daemon pinned to chosen vCPUs
 * (`pnpm bench fuse-placement`; part of `fuse`). A walk is thousands of round trips
 * between the two, and what one costs depends on whether they share a vCPU: a wake-up on
 * the other vCPU is an interrupt to a halted one (the VM measured has guest halt polling
 * off: haltpoll.guest_halt_poll_ns=0), on the same one a switch. Unpinned, the scheduler
 * picks per run, which is most of the spread of the rows above; pinned, each placement
 * is steady, so these rows compare the daemons' own cost per request. The second walk is
 * the row (the first pays for V8's compiling, on the same vCPU when pinned to one).
 */
export async function placementSuite(runner: Runner, corpus: string): Promise<void> {
  const cpus = onlineCpuList();
  if (cpus.length < 2 || spawnSync("taskset", ["--version"]).status !== 0) {
    console.log("\n(no placement rows: they need two online vCPUs, listed in /sys/devices/system/cpu/online, and taskset)");
    return;
  }
  const erofsfuse = erofsfuseBinary();
  const image = join(corpus, "real", `${PLACEMENT_IMAGE}.erofs`);
  const rows: Row[] = [];
  for (const place of placements(cpus)) {
    const ours: Walks = { first: [], second: [] };
    const theirs: Walks = { first: [], second: [] };
    for (let run = 0; run < RUNS; run++) {
      const d = startDaemon([{ image }], place.daemon);
      await walkTwiceThenStop(runner, { mount: d.mounts[0]!, stop: d.stop }, ours, place.reader);
      if (erofsfuse) await walkTwiceThenStop(runner, startErofsfuse(erofsfuse, image, place.daemon), theirs, place.reader);
    }
    rows.push({
      workload: `read ${PLACEMENT_IMAGE}, ${place.label}: second walk (cold page cache, median of ${RUNS})`,
      ours: median(ours.second),
      peer: theirs.second.length ? median(theirs.second) : undefined,
      peerName: "erofsfuse",
      unit: "MB/s",
      target: `no target; second walks: ours ${runsText(ours.second)}${theirs.second.length ? `, theirs ${runsText(theirs.second)}` : ""}; first walks: ours ${runsText(ours.first)}${theirs.first.length ? `, theirs ${runsText(theirs.first)}` : ""}`,
    });
  }
  printTable("fuse: where the daemon runs against its reader (pinned with taskset)", rows);
}

/** Runs `body` with every thread of the runner allowed on `cpus` only, then as before. */
async function withReaderOn<T>(runner: Runner, cpus: string, body: () => Promise<T>): Promise<T> {
  const pid = String(runner.pid);
  const before = /:\s*(\S+)\s*$/.exec(execFileSync("taskset", ["-c", "-p", pid], { encoding: "utf8" }))?.[1];
  if (!before) throw new Error(`taskset printed no affinity for the runner (pid ${pid})`);
  execFileSync("taskset", ["-a", "-c", "-p", cpus, pid], { stdio: "ignore" });
  try {
    return await body();
  } finally {
    execFileSync("taskset", ["-a", "-c", "-p", before, pid], { stdio: "ignore" });
  }
}

/** The rows against the kernel, and those against erofsfuse (or why there are none). */
function printTables(kernel: Row[], upstream: Row[], erofsfuse: string | undefined): void {
  printTable("fuse: erofs-fuse vs the kernel's erofs", kernel);
  if (upstream.length) printTable(`fuse: erofs-fuse vs upstream erofsfuse (${erofsfuse}), same run`, upstream);
  else console.log("\n(no erofsfuse to compare with in this run: set EROFSFUSE=/path/to/erofsfuse)");
}

/**
 * `ls -lR` of wide-plain through a fresh daemon, and what one request costs: rows against
 * the kernel's erofs and (where there is one) against upstream's erofsfuse.
 */
async function listingRows(runner: Runner, corpus: string, erofsfuse: string | undefined): Promise<{ kernel: Row[]; upstream: Row[] }> {
  const wide = join(corpus, "wide-plain.erofs");
  const lsOurs: number[] = [];
  const lsPeer: number[] = [];
  const lsUpstream: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const d = startDaemon([{ image: wide }]);
    dropCaches();
    lsOurs.push(commandSeconds("ls", ["-lR", d.mounts[0]!]));
    d.stop();
    const wk = KernelMount.tryMount(wide);
    if (wk) {
      dropCaches();
      lsPeer.push(commandSeconds("ls", ["-lR", wk.dir]));
      wk.unmount();
    }
    if (erofsfuse) {
      const e = startErofsfuse(erofsfuse, wide);
      dropCaches();
      lsUpstream.push(commandSeconds("ls", ["-lR", e.mount]));
      e.stop();
    }
  }
  const lsRow = (peer: number[], peerName: string): Row => ({
    workload: `ls -lR wide-plain, fresh daemon (cold, median of ${RUNS})`,
    ours: median(lsOurs),
    peer: peer.length ? median(peer) : undefined,
    peerName,
    unit: "s",
    higherIsBetter: false,
    target: `ours ${runsText(lsOurs, 3)}${peer.length ? `, theirs ${runsText(peer, 3)}` : ""}`,
  });
  const trips = await requestRoundTrips(runner, wide, erofsfuse);
  return {
    kernel: [lsRow(lsPeer, "kernel"), trips.kernel],
    upstream: [...(lsUpstream.length ? [lsRow(lsUpstream, "erofsfuse")] : []), ...(trips.upstream ? [trips.upstream] : [])],
  };
}

/** The listing and request rows alone (`pnpm bench fuse-requests`): about a minute. */
export async function requestsSuite(runner: Runner, corpus: string): Promise<void> {
  const erofsfuse = erofsfuseBinary();
  const listing = await listingRows(runner, corpus, erofsfuse);
  printTables(listing.kernel, listing.upstream, erofsfuse);
}

/** statfs(2) calls per timed run of the request row. */
const STATFS_CALLS = 20_000;

/**
 * What one request costs through each daemon, apart from reading anything: statfs(2) of
 * the mount in a loop. FUSE caches no statfs answer, so every call is one request to the
 * daemon and its reply (the kernel's erofs answers in place: the floor). `ls -lR` is
 * mostly such round trips: a fresh daemon's listing of wide-plain is 276 READDIRPLUS and
 * ~17,200 GETXATTR, two per entry: security.selinux, asked at every listing, and the
 * POSIX ACL (both ACLs for a directory), asked once per inode and then cached by the
 * kernel, as INIT asked it to.
 */
async function requestRoundTrips(runner: Runner, image: string, erofsfuse: string | undefined): Promise<{ kernel: Row; upstream?: Row }> {
  const microseconds = async (mount: string): Promise<number[]> => {
    // Untimed first: a fresh daemon compiles its request path during its first calls.
    await runner.run("hostStatfs", { path: mount, count: STATFS_CALLS / 10 });
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const r = await runner.run("hostStatfs", { path: mount, count: STATFS_CALLS });
      runs.push((r.seconds * 1e6) / r.value);
    }
    return runs;
  };
  const d = startDaemon([{ image }]);
  let ours: number[];
  try {
    ours = await microseconds(d.mounts[0]!);
  } finally {
    d.stop();
  }
  const k = KernelMount.tryMount(image);
  let kernel: number[] = [];
  if (k) {
    try {
      kernel = await microseconds(k.dir);
    } finally {
      k.unmount();
    }
  }
  let theirs: number[] = [];
  if (erofsfuse) {
    const e = startErofsfuse(erofsfuse, image);
    try {
      theirs = await microseconds(e.mount);
    } finally {
      e.stop();
    }
  }
  const row = (peer: number[], peerName: string): Row => ({
    workload: `one request: statfs(2) of the mount, median of ${RUNS} × ${STATFS_CALLS}`,
    ours: median(ours),
    peer: peer.length ? median(peer) : undefined,
    peerName,
    unit: "µs",
    higherIsBetter: false,
    target: `µs per call; ours ${runsText(ours, 1)}${peer.length ? `, theirs ${runsText(peer, 1)}` : ""}`,
  });
  return { kernel: row(kernel, "kernel"), ...(theirs.length ? { upstream: row(theirs, "erofsfuse") } : {}) };
}

interface MemoryRun {
  /** Page cache growth minus the image files' own pages, once idle. */
  contentBytes: number;
  /** Right after the last read. */
  pageCacheGrowthRead: number;
  imagePagesRead: number;
  daemonRssRead: number;
  /** Once the daemon has been idle long enough for its collection and sweep (about 3 s). */
  pageCacheGrowth: number;
  imagePages: number;
  mountFilePages: number;
  daemonRss: number;
  /**
   * The anonymous part of daemonRss. The rest is file pages the daemon maps (mostly the
   * node binary), which are page cache pages: present before the daemon started (the
   * bench itself runs on node) or counted in the page cache growth already.
   */
  daemonRssAnon: number;
  daemonRssGrowth: number;
}

/**
 * Longer than the daemon's idle release: two 1 s ticks without requests, then its second
 * trim 0.25 s later, and on Node 20 its young collections, ~0.6 s (see erofs-fuse's daemon.ts).
 */
const SETTLE_MS = 3000;

/** app-a then app-b read whole through two mounts of one daemon. */
function memoryRun(corpus: string, share: boolean): MemoryRun {
  const images = ["app-a", "app-b"].map((n) => join(corpus, "real", `${n}.erofs`));
  dropCaches();
  const d = startDaemon(images.map((image) => ({ image, ...(share ? { options: "inode_share,domain_id=bench" } : {}) })));
  const files = d.mounts.map((m) => hostFiles(m));
  dropCaches();
  const cached0 = pageCacheBytes();
  const rss0 = rssBytes(d.pid);
  for (const f of files) readAllHost(f);
  const growthRead = pageCacheBytes() - cached0;
  const imagePagesRead = residentBytes(images);
  const rssRead = rssBytes(d.pid);
  execFileSync("sleep", [String(SETTLE_MS / 1000)]);
  const growth = pageCacheBytes() - cached0;
  // Before fincore walks the mounts' files: its opens are requests the daemon would
  // answer with fresh allocations, no longer idle.
  const rss = rssBytes(d.pid);
  const rssAnon = rssBytes(d.pid, "RssAnon");
  const imagePages = residentBytes(images);
  const mountFilePages = residentBytes(files.flat());
  d.stop();
  return {
    contentBytes: growth - imagePages,
    pageCacheGrowthRead: growthRead,
    imagePagesRead,
    daemonRssRead: rssRead,
    pageCacheGrowth: growth,
    imagePages,
    mountFilePages,
    daemonRss: rss,
    daemonRssAnon: rssAnon,
    daemonRssGrowth: rss - rss0,
  };
}

/** The memory table alone (`pnpm bench fuse-memory`): it takes seconds, the throughput rows minutes. */
export function memoryTable(corpus: string): void {
  if (!dropCaches()) {
    console.log("\n(memory table skipped: needs root to drop the page cache)");
    return;
  }
  const without = memoryRun(corpus, false);
  const withShare = memoryRun(corpus, true);
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  console.log("\n## fuse memory: app-a + app-b through two mounts of one erofs-fuse");
  // The growth is signed: the idle release can leave the daemon smaller than before reading.
  const rssWithGrowth = (r: MemoryRun) => `${mb(r.daemonRss)} (${r.daemonRssGrowth < 0 ? "−" : "+"}${mb(Math.abs(r.daemonRssGrowth))})`;
  const lines = [
    ["", "no sharing", "inode_share", "saved"],
    ["right after reading:", "", "", ""],
    ["  kernel page cache growth", mb(without.pageCacheGrowthRead), mb(withShare.pageCacheGrowthRead), ""],
    ["    of which the image files", mb(without.imagePagesRead), mb(withShare.imagePagesRead), ""],
    ["  daemon RSS", mb(without.daemonRssRead), mb(withShare.daemonRssRead), ""],
    ["once the daemon is idle (3 s later):", "", "", ""],
    ["  kernel page cache growth", mb(without.pageCacheGrowth), mb(withShare.pageCacheGrowth), ""],
    ["    of which the mounts' files", mb(without.mountFilePages), mb(withShare.mountFilePages), ""],
    ["    of which the image files", mb(without.imagePages), mb(withShare.imagePages), ""],
    ["  daemon RSS (growth since before reading)", rssWithGrowth(without), rssWithGrowth(withShare), ""],
  ];
  /** A total of both runs, and what sharing saved of it. */
  const total = (label: string, of: (r: MemoryRun) => number) => {
    const [a, b] = [of(without), of(withShare)];
    lines.push([label, mb(a), mb(b), `${(((a - b) / a) * 100).toFixed(1)}%`]);
  };
  total("total once idle (page cache growth + RSS)", (r) => r.pageCacheGrowth + r.daemonRss);
  total("total once idle, file pages counted once (page cache growth + anonymous RSS)", (r) => r.pageCacheGrowth + r.daemonRssAnon);
  total("total right after reading", (r) => r.pageCacheGrowthRead + r.daemonRssRead);
  total("file content once idle (growth − image pages + RSS growth)", (r) => r.contentBytes + r.daemonRssGrowth);
  lines.push(["content-dedupe limit (issue 4)", "154.2 MB", "105.7 MB", "31.4%"]);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}
