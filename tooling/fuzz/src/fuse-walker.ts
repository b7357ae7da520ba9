/**
 * `node fuse-walker.js ROOT`: walks a mounted tree the way applications do (readdir, lstat,
 * readlink, statfs, whole-file reads and reads at a few offsets), in its own process so
 * that a request the daemon never answers stalls only this process, which fuse-check.ts
 * kills. Any errno is an answer, not a failure: it counts them and prints one JSON line.
 */
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, statfsSync } from "node:fs";
import { join } from "node:path";

/** Bounds that keep a mutant's walk short: a corrupt i_size can claim terabytes of holes. */
const MAX_ENTRIES = 20_000;
const MAX_DEPTH = 64;
const MAX_FILE_BYTES = 32 << 20;

const root = process.argv[2];
if (!root) {
  process.stderr.write("usage: fuse-walker ROOT\n");
  process.exit(2);
}

const errors: Record<string, number> = {};
let entries = 0;
let bytes = 0;
const buffer = Buffer.allocUnsafe(1 << 20);

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

function readFile(path: string, size: number): void {
  const fd = attempt(() => openSync(path, "r"));
  if (fd === undefined) return;
  try {
    for (let got = 0; got < MAX_FILE_BYTES; ) {
      const n = attempt(() => readSync(fd, buffer, 0, buffer.length, null));
      if (!n) break;
      got += n;
      bytes += n;
    }
    for (const at of [4095, Math.floor(size / 2), Math.max(0, size - 1), size + 4096]) {
      attempt(() => readSync(fd, buffer, 0, 8192, at));
    }
  } finally {
    closeSync(fd);
  }
}

function visit(path: string, depth: number): void {
  if (entries >= MAX_ENTRIES || depth > MAX_DEPTH) return;
  entries++;
  const st = attempt(() => lstatSync(path));
  if (!st) return;
  if (st.isSymbolicLink()) attempt(() => readlinkSync(path));
  else if (st.isFile()) readFile(path, st.size);
  else if (st.isDirectory()) {
    for (const name of attempt(() => readdirSync(path)) ?? []) visit(join(path, name), depth + 1);
  }
}

attempt(() => statfsSync(root));
visit(root, 0);
process.stdout.write(`${JSON.stringify({ entries, bytes, errors })}\n`);
