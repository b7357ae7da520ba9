import { execFile } from "node:child_process";
import { link, rename, unlink } from "node:fs/promises";
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
  if (isDir) await rename(path, alias);
  else await link(path, alias);
  try {
    return await body(alias);
  } finally {
    if (isDir) await rename(alias, path);
    else await unlink(alias);
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

  constructor(readonly scratchDir: string) {}

  add(path: Buffer, mtimeNs: bigint, isDir: boolean): void {
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

  async applyBatch(): Promise<void> {
    for (const [ns, paths] of this.#byTime) {
      for (let i = 0; i < paths.length; i += BATCH) {
        await touch(ns, paths.slice(i, i + BATCH).map((p) => p.toString("utf8")));
      }
    }
    this.#byTime.clear();
  }
}

async function touch(ns: bigint, paths: string[]): Promise<void> {
  await run("touch", ["-h", "-c", "-d", `@${secondsText(ns)}`, "--", ...paths], { env: { ...process.env, LC_ALL: "C", TZ: "UTC" } });
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
        err ? reject(new Error(`setfattr failed: ${String(stderr).trim() || err.message}`)) : resolve(),
      );
      child.stdin!.end(dump);
    });
  }
}

/** Creates a device node or fifo at `path` (made under an argv-safe name, then renamed into place). */
export async function mknod(path: Buffer, scratchDir: string, kind: "c" | "b" | "p", major = 0, minor = 0): Promise<void> {
  const safe = argvSafe(path);
  const target = safe ? path.toString("utf8") : join(scratchDir, `.erofs-node-${process.pid}-${aliasCounter++}`);
  const args = ["-m", "600", "--", target, kind];
  if (kind !== "p") args.push(String(major), String(minor));
  await run("mknod", args);
  if (!safe) await rename(target, path);
}
