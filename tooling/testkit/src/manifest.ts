import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** A name as manifests store it: UTF-8 text, or base64 bytes when not valid UTF-8. */
export type ManifestName = string | { b64: string };

export interface ManifestEntry {
  readonly path: ManifestName;
  readonly type: "file" | "dir" | "symlink" | "chardev" | "blockdev" | "fifo" | "socket";
  readonly perm: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime_ns: bigint;
  readonly nlink: number;
  readonly ino: bigint;
  readonly rdev?: [number, number];
  readonly target?: ManifestName;
  readonly xattrs: Record<string, string>;
  readonly sha256?: string;
  readonly children?: ManifestName[];
}

export interface Manifest {
  readonly name: string;
  readonly tree: string;
  readonly mkfs_flags: string;
  readonly mount_options: string;
  readonly oracle: string;
  readonly statfs: { bsize: number; blocks: number; files: number; namemax: number };
  readonly entries: ManifestEntry[];
}

/** Parses a manifest keeping 64-bit fields (mtime_ns, ino) exact as bigint. */
export function loadManifest(path: string): Manifest {
  const text = readFileSync(path, "utf8").replace(/"(mtime_ns|ino)":\s*(-?\d+)/g, '"$1":"$2"');
  const raw = JSON.parse(text) as { entries: Array<Record<string, unknown>> };
  for (const e of raw.entries) {
    e.mtime_ns = BigInt(e.mtime_ns as string);
    e.ino = BigInt(e.ino as string);
  }
  return raw as unknown as Manifest;
}

export function nameBytes(n: ManifestName): Buffer {
  return typeof n === "string" ? Buffer.from(n, "utf8") : Buffer.from(n.b64, "base64");
}

/** Mount options the manifest says the kernel needed, resolved beside the image. */
export function mountOptionsFor(m: Manifest, imagePath: string): { devices: string[]; fsoffset: number } {
  const devices: string[] = [];
  let fsoffset = 0;
  for (const opt of m.mount_options.split(",").filter(Boolean)) {
    const [k, v = ""] = opt.split("=");
    if (k === "device") devices.push(join(dirname(imagePath), v));
    else if (k === "fsoffset") fsoffset = Number(v);
    else throw new Error(`unknown manifest mount option ${opt}`);
  }
  return { devices, fsoffset };
}

/** Whether the image stores compressed data (mkfs -z, or compressed metadata/dirs). */
export function isCompressedImage(m: Manifest): boolean {
  return /(^|\s)(-z|--zD|-m)/.test(m.mkfs_flags) || /(^|\s)--tar=f/.test(m.mkfs_flags) && /-z/.test(m.mkfs_flags);
}
