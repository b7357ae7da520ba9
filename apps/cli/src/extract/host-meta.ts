import { execFile } from "node:child_process";
// Synchronous host calls, as the extractor makes them (why: at the top of extractor.ts).
import { linkSync, lutimesSync, renameSync, unlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Paths per touch/setfattr invocation: well under the kernel's argument limits. */
const BATCH = 500;

/** Exact decimal seconds of a nanosecond time, for touch -d @S.N (negative before 1970). */
export function secondsText(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `${neg ? "-" : ""}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, "0")}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Whether a path passes unchanged through a child process's argv (Node encodes argv as UTF-8). */
function argvSafe(path: Buffer): boolean {
  try {
    utf8.decode(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `body` with an argv-safe name for `path`: the path itself when it is valid UTF-8,
 * else a temporary alias in `scratchDir` (a hard link for non-directories, which shares
 * the inode, or the directory itself moved there and back).
 */
export async function withArgvName<T>(path: Buffer, isDir: boolean, scratchDir: string, body: (name: string) => Promise<T>): Promise<T> {
  if (argvSafe(path)) return body(path.toString("utf8"));
  const alias = join(scratchDir, `.erofs-alias-${process.pid}-${aliasCounter++}`);
  if (isDir) renameSync(path, alias);
  else linkSync(path, alias);
  try {
    return await body(alias);
  } finally {
    if (isDir) renameSync(alias, path);
    else unlinkSync(alias);
  }
}
let aliasCounter = 0;

/**
 * Sets modification times with full nanosecond precision. Node's utimes takes seconds as
 * a double, which cannot hold ns for current dates, so GNU touch does it, one call per
 * distinct time (trees share few times), without following symlinks.
 */
export class TimeSetter {
  readonly #byTime = new Map<bigint, Buffer[]>();
  readonly #odd: Array<{ path: Buffer; ns: bigint; isDir: boolean }> = [];
  readonly #wholeSeconds: Array<{ path: Buffer; seconds: number }> = [];

  constructor(readonly scratchDir: string) {}

  add(path: Buffer, mtimeNs: bigint, isDir: boolean): void {
    if (mtimeNs % 1_000_000_000n === 0n && mtimeNs >= 0n) {
      // Whole seconds are exact in a double: lutimes does it without a process. Not before
      // 1970: Node takes a negative time given as a number for "now".
      this.#wholeSeconds.push({ path, seconds: Number(mtimeNs / 1_000_000_000n) });
      return;
    }
    if (!argvSafe(path)) {
      this.#odd.push({ path, ns: mtimeNs, isDir });
      return;
    }
    let list = this.#byTime.get(mtimeNs);
    if (!list) this.#byTime.set(mtimeNs, (list = []));
    list.push(path);
  }

  /**
   * Names that are not UTF-8 go one by one through an alias in the scratch directory.
   * Moving a directory there and back changes its parent's mtime, so this runs first and
   * the batch (which includes every parent) after.
   */
  async applyAliased(): Promise<void> {
    for (const { path, ns, isDir } of this.#odd) await withArgvName(path, isDir, this.scratchDir, (name) => touch(ns, [name]));
    this.#odd.length = 0;
  }

  /**
   * Trees often carry a distinct time per file, and a process per file is slow, so the
   * touch commands go through a few `sh` processes reading scripts on stdin (a fork of a
   * small shell costs far less than a spawn from Node).
   */
  async applyBatch(): Promise<void> {
    for (const { path, seconds } of this.#wholeSeconds) lutimesSync(path, seconds, seconds);
    this.#wholeSeconds.length = 0;
    const lines: string[] = [];
    for (const [ns, paths] of this.#byTime) {
      for (let i = 0; i < paths.length; i += BATCH) {
        lines.push(`touch -h -c -d @${secondsText(ns)} -- ${paths.slice(i, i + BATCH).map(shellQuote).join(" ")}`);
      }
    }
    this.#byTime.clear();
    const shells = Math.max(1, Math.min(availableParallelism(), Math.ceil(lines.length / 64)));
    const scripts: string[][] = Array.from({ length: shells }, () => []);
    lines.forEach((line, i) => scripts[i % shells]!.push(line));
    await Promise.all(scripts.map((script) => runScript(["set -e", ...script].join("\n") + "\n")));
  }
}

async function touch(ns: bigint, paths: string[]): Promise<void> {
  await run("touch", ["-h", "-c", "-d", `@${secondsText(ns)}`, "--", ...paths], { env: TOUCH_ENV });
}

const TOUCH_ENV = { ...process.env, LC_ALL: "C", TZ: "UTC" };

/** A single-quoted shell word: safe for any UTF-8 path. */
function shellQuote(path: Buffer): string {
  return `'${path.toString("utf8").replaceAll("'", `'\\''`)}'`;
}

function runScript(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile("sh", ["-s"], { env: TOUCH_ENV, maxBuffer: 1 << 20 }, (err, _out, stderr) =>
      err ? reject(new Error(`setting times failed: ${String(stderr).trim() || err.message}`)) : resolve(),
    );
    child.stdin!.end(script);
  });
}

/** getfattr's dump escaping: bytes outside printable ASCII, '\\' and '=' as \ooo. */
function escapePath(path: Buffer): string {
  let s = "";
  for (const b of path) s += b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, "0")}`;
  return s;
}

/** Restores xattrs for many files with one `setfattr --restore` (Node has no setxattr). */
export class XattrSetter {
  #dump = "";
  #count = 0;

  add(path: Buffer, name: Uint8Array, value: Uint8Array): void {
    this.#dump += `# file: ${escapePath(path)}\n${escapePath(Buffer.from(name))}=0x${Buffer.from(value).toString("hex")}\n\n`;
    this.#count++;
  }

  get pending(): number {
    return this.#count;
  }

  async apply(): Promise<void> {
    if (!this.#count) return;
    const dump = this.#dump;
    this.#dump = "";
    this.#count = 0;
    await new Promise<void>((resolve, reject) => {
      const child = execFile("setfattr", ["-h", "--restore=-"], (err, _out, stderr) =>
        err ? reject(new Error(`setfattr failed: ${firstOfMany(String(stderr)) || err.message}`)) : resolve(),
      );
      child.stdin!.end(dump);
    });
  }
}

/** The first line of a tool's complaints, and how many more there were: one warning, not a wall. */
function firstOfMany(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return lines.length > 1 ? `${lines[0]} (and ${lines.length - 1} more)` : (lines[0] ?? "");
}

/** Creates a device node or fifo at `path` (made under an argv-safe name, then renamed into place). */
export async function mknod(path: Buffer, scratchDir: string, kind: "c" | "b" | "p", major = 0, minor = 0): Promise<void> {
  const safe = argvSafe(path);
  const target = safe ? path.toString("utf8") : join(scratchDir, `.erofs-node-${process.pid}-${aliasCounter++}`);
  const args = ["-m", "600", "--", target, kind];
  if (kind !== "p") args.push(String(major), String(minor));
  await run("mknod", args);
  if (!safe) renameSync(target, path);
}
