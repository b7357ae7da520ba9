import { execFileSync } from "node:child_process";
import { closeSync, lstatSync, openSync, readSync, readdirSync, writeFileSync } from "node:fs";
import type { ErofsFs, Inode } from "@erofs-ts/vfs";

export const MB = 1e6;
const READ_BYTES = 1 << 20;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Empties the kernel's page cache (root only) so that both sides start cold: the image
 * file erofs-ts reads and the kernel mount's pages alike. Returns false when it cannot.
 */
export function dropCaches(): boolean {
  if (!isRoot()) return false;
  execFileSync("sync");
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
  return true;
}

/**
 * Runs of each throughput row, the two sides interleaved; the median is reported. Single
 * cold runs swing by a third on the VM these numbers come from.
 */
export const RUNS = 3;

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}

/** "runs 81/95/97": every run of a row, for the reader to see the spread. */
export function runsText(values: number[], digits = 0): string {
  return `runs ${values.map((x) => x.toFixed(digits)).join("/")}`;
}

export interface Timed<T> {
  value: T;
  seconds: number;
}

/**
 * Seconds a command takes from a small shell's exec of it to its exit, as a user at a
 * shell sees it. Timed around execFileSync instead, it also paid for forking this Node
 * process (~30-40 ms here, as much as fsck.erofs takes to check app-a). Throws when the
 * command fails.
 */
export function commandSeconds(command: string, args: string[]): number {
  const script = 'a=$(date +%s%N); "$@" >/dev/null 2>&1; s=$?; b=$(date +%s%N); echo "$((b - a)) $s"';
  const [ns, status] = execFileSync("sh", ["-c", script, "sh", command, ...args], { encoding: "utf8" }).trim().split(" ");
  if (status !== "0") throw new Error(`${command} ${args.join(" ")} exited with ${status}`);
  return Number(ns) / 1e9;
}

export async function timed<T>(body: () => Promise<T> | T): Promise<Timed<T>> {
  const t0 = process.hrtime.bigint();
  const value = await body();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Every regular file of a mounted image, each inode once (hard links read once). */
export async function vfsFiles(fs: ErofsFs): Promise<Inode[]> {
  const files: Inode[] = [];
  const seen = new Set<bigint>();
  const walk = async (dir: Inode): Promise<void> => {
    for (const e of await fs.readdir(dir)) {
      if (seen.has(e.nid)) continue;
      seen.add(e.nid);
      const inode = await fs.iget(e.nid);
      if (inode.kind === "dir") await walk(inode);
      else if (inode.kind === "file") files.push(inode);
    }
  };
  await walk(await fs.root());
  return files;
}

/**
 * Reads files whole through the vfs, `parallel` at a time, into a reused buffer; returns
 * the bytes read. With `cache` false no page is kept, as `erofs-cli fsck` and `extract`
 * read (and as fsck.erofs decodes).
 */
export async function readAllVfs(fs: ErofsFs, files: Inode[], parallel = 1, cache = true): Promise<number> {
  let next = 0;
  let total = 0;
  const worker = async () => {
    // One buffer per reader, reused for every read, as readAllHost does on the other side.
    const into = new Uint8Array(READ_BYTES);
    while (next < files.length) {
      const inode = files[next++]!;
      for (let pos = 0; pos < inode.size; ) {
        const chunk = await fs.read(inode, pos, Math.min(READ_BYTES, inode.size - pos), { into, cache });
        if (!chunk.length) break;
        pos += chunk.length;
        total += chunk.length;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return total;
}

/** Every regular file under a host directory (a kernel mount), each inode once. */
export function hostFiles(root: string): string[] {
  const files: string[] = [];
  const seen = new Set<number>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = `${dir}/${name}`;
      const st = lstatSync(p);
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) files.push(p);
    }
  };
  walk(root);
  return files;
}

/** Reads host files whole with 1 MiB read(2) calls, as a program would. */
export function readAllHost(files: string[]): number {
  const buf = Buffer.allocUnsafe(READ_BYTES);
  let total = 0;
  for (const f of files) {
    const fd = openSync(f, "r");
    try {
      for (let n; (n = readSync(fd, buf, 0, READ_BYTES, null)) > 0; ) total += n;
    } finally {
      closeSync(fd);
    }
  }
  return total;
}
