import { spawnSync } from "node:child_process";
import { KernelMount } from "./kernel.js";

/** FIEMAP's extent flags (linux/fiemap.h). */
const FIEMAP_EXTENT_LAST = 0x1;
const FIEMAP_EXTENT_NOT_ALIGNED = 0x100;
const FIEMAP_EXTENT_DATA_INLINE = 0x200;

/** A file's FIEMAP answer: [logical, physical, length, flags] per extent, or the errno's name. */
export type FiemapAnswer = number[][] | string;

/**
 * Python: fiemap(fd, cap) answers FS_IOC_FIEMAP for an open file as [[logical, physical,
 * length, flags], ...], its first `cap` extents (all with cap None). Extents are asked
 * for in batches until one is marked last. Needs fcntl and struct imported.
 */
export const FIEMAP_PYTHON = `
def fiemap(fd, cap=None):
    out, start, batch = [], 0, 256
    while cap is None or len(out) <= cap:
        buf = bytearray(struct.pack("=QQLLLL", start, 2**64 - 1 - start, 0, 0, batch, 0) + bytes(56 * batch))
        fcntl.ioctl(fd, 0xC020660B, buf)
        n = struct.unpack_from("=L", buf, 20)[0]
        for i in range(n):
            lo, ph, ln, _, _, fl = struct.unpack_from("=QQQQQL", buf, 32 + 56 * i)
            out.append([lo, ph, ln, fl])
        if n < batch or out[-1][3] & 1:
            break
        start = out[-1][0] + out[-1][2]
    return out if cap is None else out[:cap]
`;

/**
 * Prints, for every regular file and directory under argv[1] (the root's path is empty),
 * its path (hex) and its FIEMAP answer or errno name.
 */
const PROBE = `
import errno, fcntl, json, os, struct, sys
${FIEMAP_PYTHON}
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    for name in [""] + dirs + files if d == root else dirs + files:
        p = os.path.join(d, name) if name else d
        if os.path.islink(p) or not (os.path.isfile(p) or os.path.isdir(p)):
            continue
        rel = os.fsencode(os.path.relpath(p, root)).hex() if p != root else ""
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                print(json.dumps([rel, fiemap(fd)]))
            finally:
                os.close(fd)
        except OSError as e:
            print(json.dumps([rel, errno.errorcode[e.errno]]))
`;

/** FIEMAP (filefrag's ioctl) of every regular file and directory of a mounted tree, keyed by the path's bytes in hex. */
export function kernelFiemap(dir: string): Map<string, FiemapAnswer> {
  const r = spawnSync("/usr/bin/python3", ["-c", PROBE, dir], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`FIEMAP probe failed: ${r.stderr}`);
  const out = new Map<string, FiemapAnswer>();
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const [rel, answer] = JSON.parse(line) as [string, FiemapAnswer];
    out.set(rel, answer);
  }
  return out;
}

/**
 * FIEMAP of every regular file and directory of `image` on a kernel mount of its own
 * (mounted, probed, unmounted), or null when the kernel does not mount it (or this is not root).
 */
export function kernelFiemapOf(image: string, options: { devices?: string[]; fsoffset?: number } = {}): Map<string, FiemapAnswer> | null {
  const k = KernelMount.tryMount(image, options);
  if (!k) return null;
  try {
    return kernelFiemap(k.dir);
  } finally {
    k.unmount();
  }
}

/** The fields of a reported extent (the vfs's FileExtent, erofs-cli map's JSON) that FIEMAP shows. */
export interface ReportedExtent {
  readonly logical: number;
  readonly length: number;
  readonly kind: string;
  readonly device?: number;
  readonly physical: number;
}

/**
 * What FIEMAP reports for these extents. For bytes inside another inode (no device) the
 * physical address is 0, except for a compressed tail inline in the metabox, whose map's
 * own address the kernel reports (its offset there). For compressed data it is the address
 * before any device is resolved (the kernel's report skips that step: `deviceStart` gives
 * an extra device's first byte in the unified address space).
 */
export function asFiemap(extents: readonly ReportedExtent[], deviceStart: (device: number) => number = () => 0): number[][] {
  return extents.map((e, i) => {
    let flags = i === extents.length - 1 ? FIEMAP_EXTENT_LAST : 0;
    if (e.kind === "inline") flags |= FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED;
    let physical = e.device !== undefined || e.kind === "compressed" ? e.physical : 0;
    if (e.kind === "compressed" && e.device) physical += deviceStart(e.device);
    return [e.logical, physical, e.length, flags];
  });
}

/**
 * `deviceStart` for an image's device table: extra device N's first byte in the unified
 * address space, from its `uniaddr` (in blocks). A device the table lacks is a bug of the
 * reader that yielded the extent, so it throws.
 */
export function unifiedDeviceStart(image: {
  readonly devices: readonly { readonly uniaddr: number }[];
  readonly superblock: { readonly blockSize: number };
}): (device: number) => number {
  return (device) => {
    const entry = image.devices[device - 1];
    if (!entry) throw new Error(`extent on device ${device}, which the device table lacks`);
    return entry.uniaddr * image.superblock.blockSize;
  };
}

/**
 * FIEMAP's answer for the extents a reader yields (the vfs's fs.extents()), the first
 * `cap` of them. The kernel answers a map that fails part way with the extents mapped
 * before it, as if the file ended there (the last one marked last), and fails only when
 * no extent was mapped first; `errorName` names the failure (an errno name), or throws
 * for an error no filesystem gives, which must not pass as a short file.
 */
export async function fiemapAnswer(
  extents: AsyncIterable<ReportedExtent>,
  errorName: (e: unknown) => string,
  { deviceStart, cap = Infinity }: { deviceStart?: (device: number) => number; cap?: number } = {},
): Promise<FiemapAnswer> {
  const got: ReportedExtent[] = [];
  try {
    // One more than kept, so that the last kept is marked last only where it is the file's last.
    for await (const e of extents) if (got.push(e) > cap) break;
  } catch (e) {
    // Named first: errorName rethrows (or records) what is not a filesystem error.
    const name = errorName(e);
    if (!got.length) return name;
  }
  return asFiemap(got, deviceStart).slice(0, cap);
}
