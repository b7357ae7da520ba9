import { createHash } from "node:crypto";
import { nameBytes, type ManifestEntry } from "./manifest.js";

/** What a reader observed for one path, in the manifest's terms. */
export interface Observed {
  type: string;
  perm: number;
  uid: number;
  gid: number;
  size: number;
  mtime_ns: bigint;
  nlink: number;
  ino?: bigint;
  rdev?: [number, number];
  target?: Uint8Array;
  /** name → value, in listxattr order. */
  xattrs?: Map<string, Uint8Array>;
  sha256?: string;
  children?: Uint8Array[];
}

export interface CompareOptions {
  ino?: boolean;
  xattrs?: boolean;
  content?: boolean;
  nlink?: boolean;
  mtime?: boolean;
}

/** Field-by-field differences between a manifest entry and an observation ("" when equal). */
export function compareEntry(want: ManifestEntry, got: Observed, opts: CompareOptions = {}): string[] {
  const d: string[] = [];
  const eq = (field: string, a: unknown, b: unknown) => {
    if (a !== b) d.push(`${field}: expected ${String(a)}, got ${String(b)}`);
  };
  eq("type", want.type, got.type);
  eq("perm", want.perm, got.perm);
  eq("uid", want.uid, got.uid);
  eq("gid", want.gid, got.gid);
  if (want.type !== "dir" || got.size !== undefined) eq("size", want.size, got.size);
  if (opts.mtime !== false) eq("mtime_ns", want.mtime_ns, got.mtime_ns);
  if (opts.nlink !== false) eq("nlink", want.nlink, got.nlink);
  if (opts.ino !== false) eq("ino", want.ino, got.ino);
  if (want.rdev) eq("rdev", want.rdev.join(":"), got.rdev?.join(":"));
  if (want.target !== undefined) {
    eq("target", nameBytes(want.target).toString("base64"), got.target && Buffer.from(got.target).toString("base64"));
  }
  if (opts.xattrs !== false) {
    const wantX = Object.entries(want.xattrs).map(([k, v]) => `${k}=${v}`);
    const gotX = [...(got.xattrs ?? new Map()).entries()].map(([k, v]) => `${k}=${Buffer.from(v).toString("base64")}`);
    eq("xattrs", wantX.sort().join(" "), gotX.sort().join(" "));
  }
  if (want.sha256 !== undefined && opts.content !== false) eq("sha256", want.sha256, got.sha256);
  if (want.children) {
    const w = want.children.map((c) => nameBytes(c).toString("base64")).join("/");
    const g = (got.children ?? []).map((c) => Buffer.from(c).toString("base64")).join("/");
    if (w !== g) d.push(`children differ: expected ${want.children.length}, got ${got.children?.length ?? 0}`);
  }
  return d;
}

export function sha256Hex(chunks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
}
