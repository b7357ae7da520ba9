import { spawnSync } from "node:child_process";
import { FIEMAP_PYTHON } from "@erofs-ts/testkit";

/**
 * What Node cannot ask a mounted filesystem: listxattr(2) and getxattr(2) of every listed
 * name (symlinks not followed), statvfs(3)'s f_namemax, and FIEMAP of files and directories. One
 * Python run per mount, as the repo's other kernel probes do (packages/vfs's xattr
 * tests); a failed call gives its errno name in place of the value, so the kernel's
 * refusals are compared too.
 */
export interface HostProbe {
  /** Per path asked: [name, value] pairs (base64; value or errno name), or listxattr's errno name. */
  xattrs: ([string, string][] | string)[];
  /** Per file or directory asked: its first MAX_EXTENTS extents as FIEMAP answers, or the errno name. */
  extents: (number[][] | string)[];
  statvfs: { bsize: number; blocks: number; files: string; ffree: string; namemax: number };
}

/** Extents of one file compared: a damaged chunk table can give a huge file one per chunk. */
export const MAX_EXTENTS = 4096;

const SCRIPT = `
import base64, errno, fcntl, json, os, struct, sys
${FIEMAP_PYTHON}
root = sys.argv[1]
asked = json.load(sys.stdin)
paths = [base64.b64decode(p) for p in asked["paths"]]
def name(e): return errno.errorcode.get(e.errno, "errno%d" % e.errno)
extents = []
for p in [base64.b64decode(f) for f in asked["files"]]:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            extents.append(fiemap(fd, ${MAX_EXTENTS}))
        finally:
            os.close(fd)
    except OSError as e:
        extents.append(name(e))
out = []
for p in paths:
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError as e:
        out.append(name(e)); continue
    pairs = []
    for n in names:
        raw = os.fsencode(n)
        try:
            v = base64.b64encode(os.getxattr(p, raw, follow_symlinks=False)).decode()
        except OSError as e:
            v = name(e)
        pairs.append([base64.b64encode(raw).decode(), v])
    out.append(pairs)
s = os.statvfs(root)
# Python hands fsfilcnt_t out as a signed long: ULLONG_MAX would read as -1.
u64 = lambda n: str(n % (1 << 64))
print(json.dumps({"xattrs": out, "extents": extents, "statvfs": {"bsize": s.f_bsize, "blocks": s.f_blocks, "files": u64(s.f_files), "ffree": u64(s.f_ffree), "namemax": s.f_namemax}}))
`;

/** The probe of `paths` (xattrs) and `files` (FIEMAP: files and directories) under the mount at `root`. */
export function probeHost(root: string, paths: Buffer[], files: Buffer[] = []): HostProbe {
  const r = spawnSync("/usr/bin/python3", ["-c", SCRIPT, root], {
    input: JSON.stringify({ paths: paths.map((p) => p.toString("base64")), files: files.map((p) => p.toString("base64")) }),
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`xattr probe failed: ${r.stderr || String(r.error)}`);
  return JSON.parse(r.stdout) as HostProbe;
}
