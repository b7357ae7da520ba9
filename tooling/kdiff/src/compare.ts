import { extractComparison } from "./extract-view.js";
import type { WalkResult } from "./walk.js";

/**
 * What is held against the kernel's mount: the vfs library, an erofs-fuse mount walked as
 * the kernel's is, or the tree erofs-cli extract writes, walked the same way.
 */
export type Reader = "vfs" | "fuse" | "extract";

/** One field on which the kernel and a reader disagree. */
export interface Difference {
  readonly reader: Reader;
  /** The entry's path, shown (invalid UTF-8 as U+FFFD); "/" for the root, "<...>" for the image as a whole. */
  readonly path: string;
  readonly field: string;
  readonly kernel: unknown;
  /** The reader's answer. */
  readonly ours: unknown;
}

const FIELDS = ["lookupError", "type", "perm", "uid", "gid", "size", "mtimeNs", "nlink", "ino", "blocks", "rdev", "target", "xattrs", "sha256", "ranges", "extents", "children"] as const;
/** Fields only the vfs can answer: FUSE has no FIEMAP, and an extracted tree lies elsewhere. */
const VFS_ONLY: ReadonlySet<string> = new Set(["extents"]);

/**
 * The same errno under the names each side uses: the vfs says EFSCORRUPTED for what the
 * kernel returns as EUCLEAN (its #define), and Python and Node name errno 95 either way.
 */
const ERRNO_ALIASES: Record<string, string> = { EFSCORRUPTED: "EUCLEAN", ENOTSUP: "EOPNOTSUPP" };

export function normaliseErrno<T>(value: T): T {
  if (typeof value === "string") return (ERRNO_ALIASES[value] ?? value) as T;
  if (Array.isArray(value)) return value.map(normaliseErrno) as T;
  return value;
}

/**
 * Every field where `reader`'s walk differs from the kernel's, entry by entry in the
 * kernel's walk order, up to `limit`; then entries only one side has; then the walk order
 * (children order shows up per directory already). Empty when they agree.
 */
export function compareWalks(kernel: WalkResult, other: WalkResult, reader: Reader = "vfs", limit = 50): Difference[] {
  const diffs: Difference[] = [];
  const add = (path: string, field: string, k: unknown, ours: unknown) => diffs.push({ reader, path, field, kernel: k, ours });
  if (other.unexpected?.length) add(`<${reader}>`, "unexpected", null, other.unexpected.slice(0, 3));
  if (kernel.mountError !== undefined || other.mountError !== undefined) {
    if ((kernel.mountError === undefined) !== (other.mountError === undefined)) add("<image>", "mount", kernel.mountError ?? "mounted", other.mountError ?? "mounted");
    return diffs;
  }
  if (reader === "extract") {
    // An extracted tree is held to what a host filesystem can hold of the image, and of
    // what the kernel failed to read (extract-view.ts).
    const views = extractComparison(kernel, other);
    const { stderr, exitStatus } = views.misfit ?? {};
    if (stderr) add("<extract>", "stderr", stderr.expected, stderr.printed);
    if (exitStatus) add("<extract>", "exit status", exitStatus.expected, exitStatus.actual);
    kernel = views.kernel;
    other = views.extracted;
  }
  if (!same(kernel.statfs, other.statfs)) add("<image>", "statfs", kernel.statfs, other.statfs);
  const theirs = new Map(other.entries.map((e) => [e.path, e]));
  for (const k of kernel.entries) {
    if (diffs.length >= limit) return diffs;
    const o = theirs.get(k.path);
    if (!o) {
      add(shown(k.path), "entry", "present", "absent");
      continue;
    }
    for (const f of FIELDS) {
      if (reader !== "vfs" && VFS_ONLY.has(f)) continue;
      const a = normaliseErrno(k[f]);
      const b = normaliseErrno(o[f]);
      if (!same(a, b)) add(shown(k.path), f, a, b);
    }
  }
  const kernels = new Set(kernel.entries.map((e) => e.path));
  for (const o of other.entries) {
    if (diffs.length >= limit) return diffs;
    if (!kernels.has(o.path)) add(shown(o.path), "entry", "absent", "present");
  }
  if (!diffs.length && !same(kernel.entries.map((e) => e.path), other.entries.map((e) => e.path))) add("<image>", "walk order", null, null);
  return diffs;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function shown(pathB64: string): string {
  return Buffer.from(pathB64, "base64").toString("utf8") || "/";
}

/** A difference on one line, long values cut. */
export function describeDifference(d: Difference, width = 160): string {
  const cut = (x: unknown) => {
    const s = typeof x === "string" ? x : JSON.stringify(x);
    return s.length <= width ? s : `${s.slice(0, width)}…(${s.length} chars)`;
  };
  return `${d.path} ${d.field}: kernel ${cut(d.kernel)}, ${d.reader} ${cut(d.ours)}`;
}
