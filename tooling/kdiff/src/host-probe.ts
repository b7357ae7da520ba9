import { spawnSync } from "node:child_process";

/**
 * What Node cannot ask a mounted filesystem: listxattr(2) and getxattr(2) of every listed
 * name (symlinks not followed), and statvfs(3)'s f_namemax. One Python run per mount, as
 * the repo's other kernel probes do (packages/vfs's xattr tests); a failed call gives its
 * errno name in place of the value, so the kernel's refusals are compared too.
 */
export interface HostProbe {
  /** Per path asked: [name, value] pairs (base64; value or errno name), or listxattr's errno name. */
  xattrs: ([string, string][] | string)[];
  statvfs: { bsize: number; blocks: number; files: string; ffree: string; namemax: number };
}

const SCRIPT = `
import base64, errno, json, os, sys
root = sys.argv[1]
paths = [base64.b64decode(p) for p in json.load(sys.stdin)]
def name(e): return errno.errorcode.get(e.errno, "errno%d" % e.errno)
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
print(json.dumps({"xattrs": out, "statvfs": {"bsize": s.f_bsize, "blocks": s.f_blocks, "files": u64(s.f_files), "ffree": u64(s.f_ffree), "namemax": s.f_namemax}}))
`;

export function probeHost(root: string, paths: Buffer[]): HostProbe {
  const r = spawnSync("/usr/bin/python3", ["-c", SCRIPT, root], {
    input: JSON.stringify(paths.map((p) => p.toString("base64"))),
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`xattr probe failed: ${r.stderr || String(r.error)}`);
  return JSON.parse(r.stdout) as HostProbe;
}
