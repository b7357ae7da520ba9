/**
 * `node fuse-walker.js ROOT`: walks a mounted tree the way applications do (readdir, lstat,
 * readlink, statfs, whole-file reads and reads at a few offsets), in its own process so
 * that a request the daemon never answers stalls only this process, which fuse-check.ts
 * kills. The files are first read with many reads in flight, several readers on the same
 * file among them: the daemon serves requests concurrently, and a damaged pcluster that
 * two requests wait on must fail both, not strand one. Then each is read whole in turn.
 * Any errno is an answer, not a failure: it counts them and prints one JSON line.
 * (fuse-check.ts gives it a thread pool as large as CONCURRENT_READS.)
 */
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, statfsSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

/** Bounds that keep a mutant's walk short: a corrupt i_size can claim terabytes of holes. */
const MAX_ENTRIES = 20_000;
const MAX_DEPTH = 64;
const MAX_FILE_BYTES = 32 << 20;
/** Reads in flight in the concurrent pass, each of this many bytes at most per file. */
const CONCURRENT_READS = 16;
const CONCURRENT_FILE_BYTES = 4 << 20;
/** Files read by several readers at once, each starting at its own offset. */
const SHARED_FILES = 16;
const READERS_PER_SHARED_FILE = 4;

const root = process.argv[2];
if (!root) {
  process.stderr.write("usage: fuse-walker ROOT\n");
  process.exit(2);
}

const errors: Record<string, number> = {};
let entries = 0;
let bytes = 0;
const buffer = Buffer.allocUnsafe(1 << 20);
/** `size` as a number (nearest, for bounds), `sizeBig` exact (for offsets near a corrupt i_size). */
const files: Array<{ path: string; size: number; sizeBig: bigint }> = [];

/** The call's value, or undefined once its errno is counted; anything but an errno is thrown on. */
function attempt<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof (e as NodeJS.ErrnoException).errno !== "number" || !code) throw e;
    errors[code] = (errors[code] ?? 0) + 1;
    return undefined;
  }
}

function readFile(path: string, size: bigint): void {
  const fd = attempt(() => openSync(path, "r"));
  if (fd === undefined) return;
  try {
    for (let got = 0; got < MAX_FILE_BYTES; ) {
      const n = attempt(() => readSync(fd, buffer, 0, buffer.length, null));
      if (!n) break;
      got += n;
      bytes += n;
    }
    // Exact offsets, as bigints: an i_size of 2^53 or more is past what a number names.
    for (const at of [4095n, size / 2n, size > 0n ? size - 1n : 0n, size + 4096n]) {
      attempt(() => readSync(fd, buffer, 0, 8192, at));
    }
  } finally {
    closeSync(fd);
  }
}

function visit(path: string, depth: number): void {
  if (entries >= MAX_ENTRIES || depth > MAX_DEPTH) return;
  entries++;
  const st = attempt(() => lstatSync(path, { bigint: true }));
  if (!st) return;
  if (st.isSymbolicLink()) attempt(() => readlinkSync(path));
  else if (st.isFile()) files.push({ path, size: Number(st.size), sizeBig: st.size });
  else if (st.isDirectory()) {
    for (const name of attempt(() => readdirSync(path)) ?? []) visit(join(path, name), depth + 1);
  }
}

/** attempt() for a promise. */
async function attemptAsync<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    return attempt(() => {
      throw e;
    });
  }
}

/** Reads a file's first CONCURRENT_FILE_BYTES from `from` on (wrapping to its start), in 128 KiB reads. */
async function readConcurrently(file: { path: string; size: number }, from: number): Promise<void> {
  const handle = await attemptAsync(() => open(file.path, "r"));
  if (!handle) return;
  const chunk = Buffer.allocUnsafe(128 << 10);
  try {
    const span = Math.min(file.size, CONCURRENT_FILE_BYTES);
    for (let done = 0; done < span; done += chunk.length) {
      const n = await attemptAsync(() => handle.read(chunk, 0, chunk.length, (from + done) % span));
      if (!n?.bytesRead) break;
      bytes += n.bytesRead;
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function concurrentPass(): Promise<void> {
  const jobs: Array<() => Promise<void>> = [];
  for (const f of files.slice(0, SHARED_FILES)) {
    for (let r = 0; r < READERS_PER_SHARED_FILE; r++) jobs.push(() => readConcurrently(f, Math.floor((f.size * r) / READERS_PER_SHARED_FILE)));
  }
  for (const f of files) jobs.push(() => readConcurrently(f, 0));
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: CONCURRENT_READS }, lane));
}

attempt(() => statfsSync(root));
visit(root, 0);
// The concurrent pass first, while the kernel has cached none of the files' pages: then
// its reads reach the daemon.
await concurrentPass();
for (const f of files) readFile(f.path, f.sizeBig);
process.stdout.write(`${JSON.stringify({ entries, bytes, errors })}\n`);
