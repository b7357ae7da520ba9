import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type BigIntStats } from "node:fs";
import type { Observed } from "./compare.js";

/**
 * Observes a directory tree on the host (a kernel mount, an extracted image, a FUSE mount)
 * in the manifest's terms: keyed by the base64 of the path relative to `root` ("" is the
 * root). Names are handled as bytes throughout, so non-UTF-8 names survive.
 */
export function observeHostTree(
  root: string,
  options: { content?: boolean; xattrs?: boolean; /** Keep directory sizes (a kernel or FUSE mount reports the image's). */ dirSize?: boolean } = {},
): Map<string, Observed> {
  const out = new Map<string, Observed>();
  const xattrs = options.xattrs === false ? new Map<string, Map<string, Uint8Array>>() : hostXattrs(root);
  const walk = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([Buffer.from(root + "/"), rel]) : Buffer.from(root);
    const st = lstatSync(abs, { bigint: true });
    const o = observeStat(st);
    if (o.type === "dir" && !options.dirSize) delete o.size;
    if (o.type === "symlink") o.target = readlinkSync(abs, { encoding: "buffer" });
    if (o.type === "file" && options.content !== false) o.sha256 = hashFile(abs);
    o.xattrs = xattrs.get(abs.toString("base64")) ?? new Map();
    out.set(rel.toString("base64"), o);
    if (o.type === "dir") {
      const names = readdirSync(abs, { encoding: "buffer" });
      o.children = names;
      for (const n of names) walk(rel.length ? Buffer.concat([rel, Buffer.from("/"), n]) : n);
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

/** sha256 of a file of any size (images hold files beyond what one Buffer may hold). */
function hashFile(path: Buffer): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

const FILE_TYPES: Array<[number, string]> = [
  [0o100000, "file"],
  [0o040000, "dir"],
  [0o120000, "symlink"],
  [0o020000, "chardev"],
  [0o060000, "blockdev"],
  [0o010000, "fifo"],
  [0o140000, "socket"],
];

/** The file type an lstat mode's S_IFMT bits name, in the manifests' words ("file", "dir", "chardev", ...). */
export function fileTypeOfMode(mode: number): string {
  return FILE_TYPES.find(([bits]) => (mode & 0o170000) === bits)?.[1] ?? "unknown";
}

function observeStat(st: BigIntStats): Observed {
  const mode = Number(st.mode);
  const type = fileTypeOfMode(mode);
  const o: Observed = {
    type,
    perm: mode & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    mtime_ns: st.mtimeNs,
    nlink: Number(st.nlink),
    ino: st.ino,
  };
  if (type === "chardev" || type === "blockdev") {
    const rdev = st.rdev;
    // glibc's encoding of dev_t: major in bits 8..19 and 32..43, minor in 0..7 and 20..31.
    const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    o.rdev = [major, minor];
  }
  return o;
}

/**
 * Every xattr under `root` (symlinks not followed), from one `getfattr` run: absolute path
 * (base64) → name → value. getfattr prints names with octal escapes and values as base64.
 */
export function hostXattrs(root: string): Map<string, Map<string, Uint8Array>> {
  let text: Buffer;
  try {
    text = execFileSync("getfattr", ["-R", "-P", "-h", "-d", "-m", "-", "-e", "base64", "--absolute-names", root], {
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new Error(`getfattr failed (is the attr package installed?): ${String(e)}`);
  }
  const result = new Map<string, Map<string, Uint8Array>>();
  let current: Map<string, Uint8Array> | undefined;
  for (const line of splitLines(text)) {
    const s = line.toString("latin1");
    if (s.startsWith("# file: ")) {
      current = new Map();
      result.set(unescapeOctal(line.subarray(8)).toString("base64"), current);
    } else if (current && s.length) {
      const eq = line.indexOf(0x3d);
      const name = unescapeOctal(eq < 0 ? line : line.subarray(0, eq)).toString("utf8");
      const raw = eq < 0 ? "" : line.subarray(eq + 1).toString("latin1");
      current.set(name, decodeGetfattrValue(raw));
    }
  }
  return result;
}

function decodeGetfattrValue(raw: string): Uint8Array {
  if (raw.startsWith("0s")) return Buffer.from(raw.slice(2), "base64");
  if (raw.startsWith("0x")) return Buffer.from(raw.slice(2), "hex");
  if (raw.startsWith('"') && raw.endsWith('"')) return unescapeOctal(Buffer.from(raw.slice(1, -1), "latin1"));
  return Buffer.alloc(0);
}

function splitLines(b: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) {
      lines.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < b.length) lines.push(b.subarray(start));
  return lines;
}

/** getfattr writes bytes outside printable ASCII, and `\`, as `\ooo`. */
function unescapeOctal(b: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x5c && i + 3 < b.length && /^[0-7]{3}$/.test(b.subarray(i + 1, i + 4).toString("latin1"))) {
      out.push(parseInt(b.subarray(i + 1, i + 4).toString("latin1"), 8));
      i += 3;
    } else out.push(c);
  }
  return Buffer.from(out);
}
