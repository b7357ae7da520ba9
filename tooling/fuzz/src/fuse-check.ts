import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild, type ChildOutcome } from "./child.js";
import { STACK_LINE, UNTYPED } from "./cli-check.js";
import type { Violation } from "./walk.js";

/** What erofs-fuse did with one mutant. */
export interface FuseCheck {
  /** "refused" (the daemon said why and mounted nothing) or "served" (mounted, walked, unmounted). */
  readonly outcome: "refused" | "served";
  readonly ms: number;
  /** The walker's counts: entries visited, bytes read, errno codes met. */
  readonly walk?: WalkCounts | undefined;
  /** The daemon's peak RSS once walked (KiB). */
  readonly peakRssKb?: number | undefined;
  readonly violations: readonly Violation[];
}

interface WalkCounts {
  readonly entries: number;
  readonly bytes: number;
  readonly errors: Record<string, number>;
}

/** The walker beside this module in dist/, or the built one when this runs from src/ (vitest). */
const WALKER = [new URL("./fuse-walker.js", import.meta.url), new URL("../dist/fuse-walker.js", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? "dist/fuse-walker.js (not built)";

/**
 * Above this peak RSS the daemon has allocated without bound: its page cache is given 16
 * MiB here, and a daemon serving the corpus's largest images peaks near 200 MiB.
 */
const PEAK_RSS_KB = 1 << 20;
/**
 * What the daemon logs only for a fault of its own: an exception that was not a typed
 * error ("unexpected: " and its stack), or a nodeid the kernel still holds that the daemon
 * forgot (FORGET counted wrong).
 */
const DAEMON_FAULT = /^.*(unexpected: |unknown nodeid).*$/m;

/** Whether this process can run the check: root, /dev/fuse, the built daemon and walker, and getfattr. */
export function canCheckFuse(fuseBin: string): boolean {
  return (
    process.getuid?.() === 0 &&
    existsSync("/dev/fuse") &&
    existsSync(fuseBin) &&
    existsSync(WALKER) &&
    spawnSync("getfattr", ["--version"], { stdio: "ignore" }).status === 0
  );
}

/**
 * Mounts a mutant with erofs-fuse as a user would (in the foreground, so its log can be
 * read), walks it from another process, and unmounts it. The contract: the daemon either
 * mounts, or exits 1 with an `erofs-fuse: ...` message and nothing mounted; the walk ends
 * (every request is answered); the daemon is still up after it, within its memory bound;
 * `umount` ends it with status 0; its log shows no fault of its own. Odd seeds mount with
 * inode_share, so the shared cache's paths meet the damage too.
 */
export async function checkFuse(
  fuseBin: string,
  mutant: { image: string; devices: readonly string[]; fsoffset: number },
  seed: number,
  timeoutMs: number,
): Promise<FuseCheck> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "erofs-fuzz-fuse-"));
  const mountpoint = join(dir, "m");
  mkdirSync(mountpoint);
  const pidPath = join(dir, "pid");
  const violations: Violation[] = [];
  const bad = (op: string, detail: string) => violations.push({ kind: "fuse", op, detail });
  const options = [
    ...mutant.devices.map((d) => `device=${d}`),
    ...(mutant.fsoffset ? [`fsoffset=${mutant.fsoffset}`] : []),
    "cache_size=16M",
    ...(seed % 2 ? ["inode_share", "domain_id=fuzz"] : []),
  ];
  let outcome: FuseCheck["outcome"] = "refused";
  let served: Served = {};
  try {
    // The daemon's own limit covers the walk, getfattr and the unmount after it.
    let ended: ChildOutcome | undefined;
    const daemon = runChild(process.execPath, [fuseBin, "-f", "--pidfile", pidPath, "-o", options.join(","), mutant.image, mountpoint], 4 * timeoutMs).then((r) => (ended = r));
    // The pid file is written once the mount is live.
    let pid: number | undefined;
    for (const end = Date.now() + timeoutMs; !ended && !(pid = pidIn(pidPath)) && Date.now() < end; ) await sleep(20);
    if (ended) {
      const text = ended.stderr;
      if (ended.status !== 1) bad("erofs-fuse -f IMAGE MOUNTPOINT", `exit status ${ended.status ?? ended.signal} without a mount\n${text.slice(0, 2000)}`);
      else if (!/^erofs-fuse: /m.test(text)) bad("erofs-fuse -f IMAGE MOUNTPOINT", `exit 1 without an erofs-fuse: message\n${text.slice(0, 2000)}`);
      else if (STACK_LINE.test(text) || UNTYPED.test(text)) bad("erofs-fuse -f IMAGE MOUNTPOINT", `untyped failure\n${text.slice(0, 2000)}`);
    } else if (!pid) {
      bad("erofs-fuse -f IMAGE MOUNTPOINT", `not mounted after ${timeoutMs} ms`);
    } else {
      outcome = "served";
      served = await serve(mountpoint, pid, timeoutMs, bad);
    }
    const r = await daemon;
    if (outcome === "served") {
      if (r.timedOut) bad("umount", "the daemon did not exit (killed)");
      else if (r.status !== 0) bad("umount", `the daemon exited with ${r.status ?? r.signal}\n${r.stderr.slice(0, 2000)}`);
      const fault = r.stderr.match(DAEMON_FAULT);
      if (fault || STACK_LINE.test(r.stderr) || UNTYPED.test(r.stderr)) bad("daemon log", (fault?.[0] ?? r.stderr).slice(0, 2000));
    }
  } finally {
    if (isMounted(mountpoint)) {
      bad("cleanup", "a mount was left behind");
      await runChild("umount", ["-l", mountpoint], 10_000);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return { outcome, ms: Date.now() - t0, ...served, violations };
}

interface Served {
  walk?: WalkCounts | undefined;
  peakRssKb?: number | undefined;
}

/** The mounted part of checkFuse: walk, check the daemon, unmount. */
async function serve(mountpoint: string, pid: number, timeoutMs: number, bad: (op: string, detail: string) => void): Promise<Served> {
  let walk: WalkCounts | undefined;
  // As many pool threads as the walker's concurrent pass keeps reads in flight (16).
  const w = await runChild(process.execPath, [WALKER, mountpoint], timeoutMs, { UV_THREADPOOL_SIZE: "16" });
  if (w.timedOut) bad("walk of the mount", `no end after ${timeoutMs} ms: a request went unanswered (walker killed)`);
  else if (w.status !== 0) bad("walk of the mount", `walker exited with ${w.status ?? w.signal}\n${w.stderr.slice(0, 2000)}`);
  else walk = walkCounts(w.stdout);
  if (w.status === 0 && !walk) bad("walk of the mount", `walker output unreadable: ${w.stdout.slice(0, 200)}`);
  // Extended attributes: Node has no call for them, getfattr (package attr) does.
  const xattrs = await runChild("getfattr", ["-R", "-h", "-d", "-m", "-", "--absolute-names", mountpoint], timeoutMs);
  if (xattrs.timedOut) bad("getfattr -R -d -m -", `no end after ${timeoutMs} ms (killed)`);
  const peak = peakRssKb(pid);
  if (peak === undefined) bad("after the walk", "the daemon is gone");
  else if (peak > PEAK_RSS_KB) bad("after the walk", `daemon peak RSS ${peak} kB`);
  const u = await runChild("umount", [mountpoint], 10_000);
  if (u.status !== 0) bad("umount", `failed: ${u.stderr.trim()}`);
  return { walk, peakRssKb: peak };
}

/**
 * The pid in a pid file once it is whole ("PID\n"), else undefined: the file exists from
 * the moment the daemon opens it, before the pid is written (read then, it was empty and
 * made the daemon look gone).
 */
function pidIn(path: string): number | undefined {
  try {
    const text = readFileSync(path, "utf8");
    return /^\d+\n$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function walkCounts(stdout: string): WalkCounts | undefined {
  try {
    return JSON.parse(stdout) as WalkCounts;
  } catch {
    return undefined;
  }
}

function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[1] === path);
}

/** VmHWM of a live process, else undefined. */
function peakRssKb(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m);
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
