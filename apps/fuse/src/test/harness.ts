import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import { processAlive } from "@erofs-ts/testkit";

export const ENTRY = fileURLToPath(new URL("../../bin/erofs-fuse.cjs", import.meta.url));

/** Whether FUSE mounts can be made here (root and /dev/fuse); tests skip with a line otherwise. */
export const FUSE_AVAILABLE = process.getuid?.() === 0 && existsSync("/dev/fuse");
export const FUSE_ABSENT = "erofs-fuse tests skipped: they need root and /dev/fuse";

export interface ImageArg {
  readonly image: string;
  /** Image options (-o) for this pair, e.g. "inode_share,domain_id=x". */
  readonly options?: string;
}

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs erofs-fuse to completion (the background start returns once mounts are live). */
export function runFuse(args: readonly string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

/** Mountpoints currently in /proc/self/mountinfo. */
export function mountedPaths(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f.length > 4) out.add(f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** The mount options /proc/mounts shows for `mountpoint` (ro, nosuid, ...), or undefined when not mounted. */
export function mountOptionsOf(mountpoint: string): string[] | undefined {
  return readFileSync("/proc/mounts", "utf8").split("\n").find((l) => l.split(" ")[1] === mountpoint)?.split(" ")[3]?.split(",");
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A background erofs-fuse daemon serving several images, started the way a user starts
 * it (the command returns once every mount is live), with its pid and stats files.
 */
export class FuseDaemon {
  private constructor(
    readonly dir: string,
    readonly mountpoints: readonly string[],
    readonly pid: number,
    private readonly statsFile: string,
  ) {}

  static async start(images: readonly ImageArg[], daemonOptions: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<FuseDaemon> {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-test-"));
    const mountpoints: string[] = [];
    const args = ["--pidfile", join(dir, "pid"), "--stats", join(dir, "stats.json"), ...daemonOptions];
    images.forEach((img, i) => {
      const mnt = join(dir, `m${i}`);
      mkdirSync(mnt);
      mountpoints.push(mnt);
      // Each pair gets exactly its own options: reset with an empty -o is not possible, so
      // options accumulate; callers give the same keys to every pair that needs them.
      if (img.options) args.push("-o", img.options);
      args.push(img.image, mnt);
    });
    const r = await runFuse(args, 60_000, env);
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`erofs-fuse failed (${r.status}): ${r.stderr}`);
    }
    const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
    return new FuseDaemon(dir, mountpoints, pid, join(dir, "stats.json"));
  }

  /** The daemon's statistics, asked for with SIGUSR1. */
  async stats(): Promise<DaemonStats> {
    rmSync(this.statsFile, { force: true });
    process.kill(this.pid, "SIGUSR1");
    await waitFor(() => existsSync(this.statsFile), 10_000, "the stats file");
    return JSON.parse(readFileSync(this.statsFile, "utf8")) as DaemonStats;
  }

  get running(): boolean {
    return processAlive(this.pid);
  }

  /** SIGTERM and wait for the daemon to end; throws if a mount is left behind. */
  async stop(): Promise<void> {
    if (processAlive(this.pid)) process.kill(this.pid, "SIGTERM");
    await waitFor(() => !processAlive(this.pid), 20_000, "the daemon to exit");
    const left = [...mountedPaths()].filter((p) => this.mountpoints.includes(p));
    rmSync(this.dir, { recursive: true, force: true });
    if (left.length) throw new Error(`mounts left behind: ${left.join(", ")}`);
  }

  /** Last resort for a failed test: kill and detach whatever is left. */
  kill(): void {
    if (processAlive(this.pid)) process.kill(this.pid, "SIGKILL");
    for (const m of this.mountpoints) {
      if (mountedPaths().has(m)) execFileSync("umount", ["-l", m], { stdio: "ignore" });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface MountStats {
  image: string;
  mountpoint: string;
  mounted: boolean;
  reader: "poll" | "thread-pool";
  requests: number;
  errors: number;
  bytesRead: number;
  sharedBytesRead: number;
  openFiles: number;
  liveNodes: number;
  lookupReferences: number;
  /** Small files read ahead of their READs (see ReadAhead), and how many a READ then took. */
  readsAhead: number;
  readsAheadTaken: number;
  decodedExtents: { extents: number; bytes: number; budgetBytes: number };
  /** The decoded fragments (the packed inode's pages). */
  packedCache: { pages: number; bytes: number; budgetBytes: number; fills: number };
  scratchBytes: number;
  replyBufferBytes: number;
  /** Parsed inodes the mount keeps. */
  inodesKept: number;
  mapHeadersKept: number;
}

export interface DaemonStats {
  cache: { pages: number; owners: number; bytes: number; budgetBytes: number; hits: number; misses: number; fills: number; evictions: number; sharedBytesServed: number };
  rssBytes: number;
  /** V8's heap (its spaces' committed pages). */
  heapTotalBytes: number;
  /** Resident bytes of V8's young generation. */
  youngGenerationBytes: number;
  mounts: MountStats[];
}

/**
 * A slot for the daemon a test starts: after each test of the calling describe block,
 * whatever it left running is stopped (or killed, if it died), and the slot emptied.
 */
export function daemonPerTest(): { daemon: FuseDaemon | null } {
  const slot: { daemon: FuseDaemon | null } = { daemon: null };
  afterEach(async () => {
    if (slot.daemon?.running) await slot.daemon.stop();
    else slot.daemon?.kill();
    slot.daemon = null;
  });
  return slot;
}
