import { createHash } from "node:crypto";
import { ACL_UNDEFINED_ID, posixAclXattr, type PosixAclEntry } from "@erofs-ts/testkit";
import { Rng } from "./rng.js";

/**
 * A random file tree as a plan: what to create, in order, and the metadata to give it.
 * Nothing here touches the disk (materialise.ts does), so one seed is one plan on any
 * machine and a test can compare plans without writing them.
 *
 * Paths and names are *byte strings*: latin1 strings with one char per byte, so non-UTF-8
 * names pass through path arithmetic unchanged (`Buffer.from(p, "latin1")` gives the bytes).
 */
export type BytePath = string;

export type NodeKind = "dir" | "file" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo";

export interface FileData {
  readonly bytes: Uint8Array;
  /** [start, end) ranges never written (sparse holes); bytes there are zero. */
  readonly holes: readonly (readonly [number, number])[];
}

export interface Metadata {
  /** Permission bits (chmod), or null to keep what creation gave. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** atime and mtime, in ns since the epoch (negative before 1970). */
  mtimeNs: bigint;
}

export interface TreeNode {
  /** Relative to the tree's root; "" is the root itself. */
  readonly path: BytePath;
  readonly kind: NodeKind;
  readonly file?: FileData;
  /** symlink: its target bytes; hardlink: the path of the file it links to. */
  readonly target?: BytePath;
  readonly rdev?: readonly [number, number];
  /** [name, value] in the order they are set. */
  readonly xattrs: [BytePath, Uint8Array][];
  meta: Metadata | null;
}

export interface TreePlan {
  readonly seed: number;
  /** Scales entry counts and the largest file sizes (0.2 .. 1). */
  readonly scale: number;
  /** Creation order: a directory before anything inside it, a file before its hard links. */
  readonly nodes: TreeNode[];
}

const NAME_WORDS = ["a", "b", "file", "x", "data", "Z", "lib", ".hidden"];
const LONG_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-";
/** Names set with values shared by many files: mkfs.erofs puts such values in its shared xattr area. */
const SHARED_XATTR_NAMES = ["user.shared0", "user.shared1", "user.shared2", "user.shared3", "trusted.overlay.opaque", "security.ima", "user.mime_type"];
const MODES = [0o644, 0o755, 0o600, 0o4755, 0o2755, 0o1777, 0o000, 0o777];
const MAX_DEPTH = 5;

const utf8AsBytes = (s: string): BytePath => Buffer.from(s, "utf8").toString("latin1");
export const pathBytes = (p: BytePath): Buffer => Buffer.from(p, "latin1");
const join = (dir: BytePath, name: BytePath): BytePath => (dir ? `${dir}/${name}` : name);
const depth = (p: BytePath): number => (p ? p.split("/").length : 0);

/** The plan seed `seed` names. */
export function planTree(seed: number): TreePlan {
  const rng = new Rng(seed, 0);
  const scale = rng.pick([0.2, 0.3, 0.5, 1.0]);
  const g = new TreeDraw(rng, seed, scale);
  g.draw();
  return { seed, scale, nodes: g.nodes };
}

/** A digest of everything a plan would write: equal plans, equal trees. */
export function planDigest(plan: TreePlan): string {
  const h = createHash("sha256");
  for (const n of plan.nodes) {
    h.update(JSON.stringify([n.path, n.kind, n.target ?? null, n.rdev ?? null, n.file?.holes ?? null, n.meta && { ...n.meta, mtimeNs: String(n.meta.mtimeNs) }]));
    if (n.file) h.update(n.file.bytes);
    for (const [name, value] of n.xattrs) h.update(name).update(value);
  }
  return h.digest("hex");
}

class TreeDraw {
  readonly nodes: TreeNode[] = [];
  readonly #taken = new Set<BytePath>([""]);
  readonly #dirs: BytePath[] = [""];
  readonly #files: TreeNode[] = [];
  readonly #text: Uint8Array;
  readonly #sharedValues: Uint8Array[];
  /** How many of the entries get xattrs: some trees have none, some have them everywhere. */
  readonly #xattrDensity: number;

  constructor(
    private readonly rng: Rng,
    seed: number,
    private readonly scale: number,
  ) {
    this.#text = Buffer.from(`The quick brown fox jumps over the lazy dog ${seed}. `);
    this.#sharedValues = Array.from({ length: 4 }, () => rng.bytes(rng.pick([0, 1, 7, 33, 200, 1500])));
    this.#xattrDensity = rng.float();
  }

  draw(): void {
    const rng = this.rng;
    this.#add({ path: "", kind: "dir", xattrs: [], meta: null });
    const ndirs = rng.range(1, Math.floor(12 * this.scale) + 1);
    for (let i = 0; i < ndirs; i++) {
      let parent = rng.pick(this.#dirs);
      if (depth(parent) >= MAX_DEPTH) parent = "";
      const path = join(parent, this.#name("d"));
      if (this.#taken.has(path)) continue;
      this.#add({ path, kind: "dir", xattrs: [], meta: null });
      this.#dirs.push(path);
    }
    const nentries = rng.range(3, Math.floor(60 * this.scale) + 3);
    for (let i = 0; i < nentries; i++) this.#entry();
    if (rng.chance(0.3)) this.#wideDirectory();
    this.#acls();
    for (const n of this.nodes) if (n.kind === "dir" && n.path) this.#xattrsOf(n);
    for (const n of this.nodes) n.meta = this.#meta(n);
  }

  #add(node: TreeNode): TreeNode {
    this.#taken.add(node.path);
    this.nodes.push(node);
    return node;
  }

  /** One entry of a random kind in a random directory. */
  #entry(): void {
    const rng = this.rng;
    const dir = rng.pick(this.#dirs);
    const path = join(dir, this.#name(""));
    if (this.#taken.has(path)) return;
    const k = rng.float();
    if (k < 0.6 || k >= 0.95) {
      const node = this.#add({ path, kind: "file", file: this.#content(), xattrs: [], meta: null });
      this.#files.push(node);
      if (k < 0.6) this.#xattrsOf(node);
    } else if (k < 0.72) {
      const node = this.#add({ path, kind: "symlink", target: this.#symlinkTarget(dir), xattrs: [], meta: null });
      this.#xattrsOf(node);
    } else if (k < 0.82) {
      if (!this.#files.length) return;
      this.#add({ path, kind: "hardlink", target: rng.pick(this.#files).path, xattrs: [], meta: null });
    } else if (k < 0.87) {
      this.#xattrsOf(this.#add({ path, kind: "fifo", xattrs: [], meta: null }));
    } else if (k < 0.92) {
      // Majors past 255 and minors past 255 take the wide encodings of dev_t and of i_rdev.
      this.#add({ path, kind: "chardev", rdev: [rng.range(0, 4095), rng.range(0, (1 << 20) - 1)], xattrs: [], meta: null });
    } else {
      this.#add({ path, kind: "blockdev", rdev: [rng.range(0, 255), rng.range(0, 255)], xattrs: [], meta: null });
    }
  }

  /** A directory of hundreds to thousands of entries: several dirent blocks, long names. */
  #wideDirectory(): void {
    const rng = this.rng;
    const path = join(rng.pick(this.#dirs), `bigdir${rng.range(0, 9)}`);
    if (this.#taken.has(path)) return;
    this.#add({ path, kind: "dir", xattrs: [], meta: null });
    this.#dirs.push(path);
    const n = rng.range(300, Math.floor(3000 * this.scale) + 300);
    for (let i = 0; i < n; i++) {
      const child = join(path, `e${String(rng.range(0, 99999)).padStart(5, "0")}_${"y".repeat(rng.range(0, 60))}`);
      if (this.#taken.has(child)) continue;
      if (rng.chance(0.9)) this.#add({ path: child, kind: "file", file: { bytes: rng.bytes(rng.pick([0, 0, 1, 10])), holes: [] }, xattrs: [], meta: null });
      else this.#add({ path: child, kind: "dir", xattrs: [], meta: null });
    }
  }

  #name(prefix: string): BytePath {
    const rng = this.rng;
    const c = rng.float();
    let name: BytePath;
    if (c < 0.05) {
      // Near NAME_MAX: a dirent block holds few of them.
      name = Array.from({ length: rng.range(200, 255) }, () => rng.pick([...LONG_NAME_CHARS])).join("");
    } else if (c < 0.1) {
      // Any byte but NUL and '/': mostly invalid UTF-8.
      name = Array.from({ length: rng.range(1, 30) }, () => {
        const b = rng.range(1, 254);
        return String.fromCharCode(b >= 0x2f ? b + 1 : b);
      }).join("");
    } else if (c < 0.15) {
      name = utf8AsBytes(`ü名字${rng.range(0, 999)}`);
    } else {
      name = `${prefix}${rng.pick(NAME_WORDS)}${rng.range(0, 99999)}`;
    }
    return name === "." || name === ".." ? `dot${name}` : name;
  }

  /** File contents: sizes around block boundaries, every compressibility, copies and shared prefixes, holes. */
  #content(): FileData {
    const rng = this.rng;
    const s = rng.float();
    let size: number;
    if (s < 0.08) size = 0;
    else if (s < 0.12) size = 1;
    else if (s < 0.4) size = rng.range(2, 4095);
    else if (s < 0.6) size = rng.pick([4096, 8192, 12288, 16384, 65536]) + rng.pick([-1, 0, 1]);
    else if (s < 0.92) size = rng.range(4097, 90000);
    else size = Math.floor(rng.range(1 << 20, 8 << 20) * this.scale);

    if (this.#files.length && rng.chance(0.15)) {
      // A copy, or one sharing a prefix or a suffix with an earlier file: dedupe and
      // fragment sharing meet identical data at different offsets.
      const src = rng.pick(this.#files).file!.bytes;
      const m = rng.float();
      if (m < 0.4) return { bytes: src, holes: [] };
      const extra = rng.bytes(rng.range(1, 5000));
      return { bytes: Buffer.concat(m < 0.7 ? [src, extra] : [extra, src]), holes: [] };
    }
    const bytes = new Uint8Array(size);
    const c = rng.float();
    if (c < 0.15) {
      // zeros
    } else if (c < 0.4) this.#fillText(bytes, 0, size);
    else if (c < 0.6) bytes.set(rng.bytes(size));
    else {
      for (let at = 0; at < size; ) {
        const n = Math.min(size - at, rng.pick([100, 1000, 4096, 5000, 30000]));
        const k = rng.float();
        if (k < 0.33) {
          // zeros
        } else if (k < 0.66) this.#fillText(bytes, at, n);
        else bytes.set(rng.bytes(n), at);
        at += n;
      }
    }
    return { bytes, holes: size > 8192 && rng.chance(0.15) ? this.#punchHoles(bytes) : [] };
  }

  /** Zeroes whole 4 KiB blocks and leaves them unwritten: chunked images store them as holes. */
  #punchHoles(bytes: Uint8Array): [number, number][] {
    const rng = this.rng;
    const blocks = Math.floor(bytes.length / 4096);
    const holes: [number, number][] = [];
    for (let b = 0; b < blocks; ) {
      const run = rng.range(1, Math.max(1, Math.floor(blocks / 3)));
      if (rng.chance(0.5)) {
        const end = Math.min(blocks, b + run);
        bytes.fill(0, b * 4096, end * 4096);
        holes.push([b * 4096, end * 4096]);
      }
      b += run;
    }
    return holes;
  }

  #fillText(bytes: Uint8Array, at: number, n: number): void {
    for (let i = 0; i < n; i++) bytes[at + i] = this.#text[i % this.#text.length]!;
  }

  #symlinkTarget(dir: BytePath): BytePath {
    const rng = this.rng;
    const c = rng.float();
    // A target of 60..4000 bytes: inline in the inode's block, or in blocks of its own.
    if (c < 0.5) return Array.from({ length: rng.range(1, 40) }, () => rng.pick([..."abc/._"])).join("");
    if (c < 0.8) return Array.from({ length: rng.range(60, 4000) }, () => rng.pick([..."abcdefgh/"])).join("");
    if (!this.#files.length) return "dangling";
    return relativePath(dir, rng.pick(this.#files).path);
  }

  /** user.*, trusted.*, security.* xattrs, some with values shared between entries. */
  #xattrsOf(node: TreeNode): void {
    const rng = this.rng;
    if (rng.float() > this.#xattrDensity) return;
    // The VFS refuses user.* on symlinks and special files.
    const userAllowed = node.kind === "file" || node.kind === "dir";
    const n = rng.range(1, 6);
    for (let i = 0; i < n; i++) {
      const k = rng.float();
      let name: BytePath;
      let value: Uint8Array;
      if (k < 0.35) {
        name = rng.pick(SHARED_XATTR_NAMES);
        const digit = /[0-9]$/.exec(name);
        value = this.#sharedValues[digit ? Number(digit[0]) : name.length % 4]!;
      } else if (k < 0.6) {
        name = `user.${Array.from({ length: rng.range(1, 40) }, () => rng.pick([..."abcdefghij_."])).join("")}`;
        value = rng.bytes(rng.pick([0, 1, 5, 64, 300, 2000, 4000]));
      } else if (k < 0.8) {
        name = `trusted.${rng.pick(["foo.", "foo.bar", "x", "overlay.redirect", "foo.long".repeat(5)])}`;
        value = rng.bytes(rng.pick([0, 3, 100, 1000]));
      } else {
        name = `security.${rng.pick(["capability", "sec1", "foo.z"])}`;
        value = rng.bytes(rng.pick([0, 20, 500]));
      }
      if (!userAllowed && name.startsWith("user.")) continue;
      node.xattrs.push([name, value]);
    }
  }

  /** POSIX ACLs (system.posix_acl_access, and _default on directories) on up to three entries. */
  #acls(): void {
    const rng = this.rng;
    const candidates = this.nodes.filter((n) => n.path && (n.kind === "dir" || (n.kind === "file" && this.#files.includes(n))));
    for (const n of rng.sample(candidates, rng.range(0, 3))) {
      n.xattrs.push(["system.posix_acl_access", this.#acl(n.kind === "dir" ? 0o755 : 0o644)]);
      if (n.kind === "dir" && rng.chance(0.5)) n.xattrs.push(["system.posix_acl_default", this.#acl(0o755)]);
    }
  }

  /** A valid POSIX ACL xattr (version 2): entries sorted by tag, then id. */
  #acl(mode: number): Uint8Array {
    const rng = this.rng;
    const users = rng.sample(range(1000, 1100), rng.range(0, 3)).sort((a, b) => a - b);
    const groups = rng.sample(range(2000, 2100), rng.range(0, 2)).sort((a, b) => a - b);
    const entries: PosixAclEntry[] = [[0x01, (mode >> 6) & 7, ACL_UNDEFINED_ID]];
    for (const u of users) entries.push([0x02, rng.range(0, 7), u]);
    entries.push([0x04, (mode >> 3) & 7, ACL_UNDEFINED_ID]);
    for (const g of groups) entries.push([0x08, rng.range(0, 7), g]);
    if (users.length || groups.length) entries.push([0x10, 7, ACL_UNDEFINED_ID]);
    entries.push([0x20, mode & 7, ACL_UNDEFINED_ID]);
    return posixAclXattr(entries);
  }

  /** Modes with setuid/sticky bits, owners past 16 bits, mtimes with nanoseconds and before 1970. */
  #meta(node: TreeNode): Metadata {
    const rng = this.rng;
    let mode: number | null = null;
    if (node.kind !== "symlink" && rng.chance(0.4)) {
      mode = rng.chance(8 / 9) ? rng.pick(MODES) : rng.range(0, 0o7777);
      if (node.kind === "dir") mode |= 0o700;
    }
    let uid: number | null = null;
    let gid: number | null = null;
    if (rng.chance(0.5)) {
      uid = rng.pick([0, 1, 1000, 65534, 70000, rng.range(0, 2 ** 31)]);
      gid = rng.pick([0, 1, 100, 65535, 70000, rng.range(0, 2 ** 31)]);
    }
    const c = rng.float();
    let mtimeNs: bigint;
    const ns = (s: number, n: number) => BigInt(s) * 1_000_000_000n + BigInt(n);
    if (c < 0.3) mtimeNs = ns(rng.range(0, 2 ** 31 - 1), 0);
    else if (c < 0.78) mtimeNs = ns(rng.range(0, 2 ** 33), rng.range(0, 999_999_999));
    else if (c < 0.82) mtimeNs = ns(-rng.range(1, 2 ** 31), rng.range(0, 999_999_999));
    else mtimeNs = rng.pick([0n, 1n, 999_999_999n, ns(2 ** 32 + 5, 7), ns(1_700_000_000, 123_456_789)]);
    return { mode, uid, gid, mtimeNs };
  }
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}

/** The relative path from directory `from` to `to` (both relative to one root). */
export function relativePath(from: BytePath, to: BytePath): BytePath {
  const a = from ? from.split("/") : [];
  const b = to.split("/");
  let common = 0;
  while (common < a.length && common < b.length - 1 && a[common] === b[common]) common++;
  return [...a.slice(common).map(() => ".."), ...b.slice(common)].join("/");
}
