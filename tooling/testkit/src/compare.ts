import { createHash } from "node:crypto";
import { nameBytes, type ManifestEntry } from "./manifest.js";

/** What a reader observed for one path, in the manifest's terms. */
export interface Observed {
  type: string;
  perm: number;
  uid: number;
  gid: number;
  /** Absent where it is not the image's (a directory extracted onto a host filesystem). */
  size?: number;
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
  /** Compare children as a set (a host directory lists in its own order). */
  childrenOrder?: boolean;
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
    const w = want.children.map((c) => nameBytes(c).toString("base64"));
    const g = (got.children ?? []).map((c) => Buffer.from(c).toString("base64"));
    if (opts.childrenOrder === false) {
      w.sort();
      g.sort();
    }
    if (w.join("/") !== g.join("/")) d.push(`children differ: expected ${want.children.length}, got ${got.children?.length ?? 0}`);
  }
  return d;
}

export function sha256Hex(chunks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
}

/**
 * A manifest entry made from an observation (of a kernel mount or a source tree), so that
 * another reader can be compared with it by compareEntry.
 */
export function entryFromObserved(path: Uint8Array, o: Observed, xattrs?: Map<string, Uint8Array>): ManifestEntry {
  const b64 = (b: Uint8Array) => ({ b64: Buffer.from(b).toString("base64") });
  return {
    path: b64(path),
    type: o.type as ManifestEntry["type"],
    perm: o.perm,
    uid: o.uid,
    gid: o.gid,
    size: o.size ?? 0,
    mtime_ns: o.mtime_ns,
    nlink: o.nlink,
    ino: o.ino ?? 0n,
    xattrs: Object.fromEntries([...(xattrs ?? o.xattrs ?? new Map()).entries()].map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    ...(o.rdev ? { rdev: o.rdev } : {}),
    ...(o.sha256 ? { sha256: o.sha256 } : {}),
    ...(o.target ? { target: b64(o.target) } : {}),
    ...(o.children ? { children: o.children.map(b64) } : {}),
  };
}
