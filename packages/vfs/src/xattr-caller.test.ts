import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AS_NOBODY, KernelMount, fixtureImages, loadManifest, nameBytes, nobodyReaches, type ManifestEntry } from "@erofs-ts/testkit";
import { ErofsError, hasCapSysAdmin, mount, xattrWithheldByVfs, type ErofsFs } from "./index.js";

/**
 * listxattr and getxattr as the kernel answers them to a caller with and without
 * CAP_SYS_ADMIN, names it refuses included: trusted.* is neither listed nor read without
 * it, user.* of a symlink, fifo or device is listed but not read (the VFS's rules, above
 * erofs), and namespace prefixes alone, absent names and foreign namespaces fail as they
 * do there. The kernel's side comes from a probe run on its mount as root, as another
 * user and as root without the capability.
 */
const images = fixtureImages().filter((f) => loadManifest(f.manifest).entries.some((e) => Object.keys(e.xattrs ?? {}).length));
// "" and a name one past XATTR_NAME_MAX (255) are ERANGE before any filesystem is asked.
const EXTRA_NAMES = ["user.", "trusted.", "user.absent", "trusted.absent", "security.absent", "system.posix_acl_access", "bogus.x", "", `user.${"a".repeat(250)}`, `user.${"a".repeat(251)}`];
/** The system's Python (.ci/run installs it): another user must be able to run it. */
const PYTHON = "/usr/bin/python3";
/** Python's names for the errnos both sides answer with. */
const ERRNO_NAME: Record<string, string> = { EOPNOTSUPP: "ENOTSUP" };

/** Prints, per path, the listing and every name's answer: the probe the kernel side runs (argv: root, extra names, a JSON list of paths to skip). */
const PROBE = `
import errno, json, os, sys
root, extra, beyond = sys.argv[1], sys.argv[2].split("\\n"), set(json.loads(sys.argv[3]))
def paths():
    yield ""
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            yield os.path.relpath(os.path.join(d, n), root)
for rel in sorted(paths()):
    if rel in beyond: continue
    p = os.path.join(root, rel) if rel else root
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError as e:
        print(rel, "LIST", errno.errorcode[e.errno]); continue
    print(rel, "LIST", ",".join(names))
    for n in names + extra:
        try:
            print(rel, n, os.getxattr(p, n, follow_symlinks=False).hex())
        except OSError as e:
            print(rel, n, errno.errorcode[e.errno])
`;

async function vfsProbe(fs: ErofsFs, paths: string[], extraNames: readonly string[], privileged: boolean): Promise<string> {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  for (const rel of [...paths].sort()) {
    const inode = await fs.lookup(nameBytes(rel));
    const names = (await fs.listxattr(inode, { privileged })).map((n) => decoder.decode(n));
    lines.push(`${rel} LIST ${names.join(",")}`);
    for (const n of [...names, ...extraNames]) {
      // A listed name of these sound images fails to read only where the VFS withholds it,
      // and the probe's kernel side judges which those are.
      const listed = names.includes(n);
      try {
        lines.push(`${rel} ${n} ${Buffer.from(await fs.getxattr(inode, n, { privileged })).toString("hex")}`);
        if (listed) expect(xattrWithheldByVfs(inode.kind, n, privileged), `${rel} ${n}`).toBe(false);
      } catch (e) {
        if (!ErofsError.isInstance(e)) throw e;
        if (listed) expect(xattrWithheldByVfs(inode.kind, n, privileged), `${rel} ${n}`).toBe(e.code === "ENODATA");
        lines.push(`${rel} ${n} ${ERRNO_NAME[e.code] ?? e.code}`);
        // findxattr is getxattr with null for ENODATA.
        const found = await fs.findxattr(inode, n, { privileged }).then(
          (v) => (v === null ? "ENODATA" : "value"),
          (f: unknown) => (ErofsError.isInstance(f) ? f.code : String(f)),
        );
        expect(found, `${rel} ${n}`).toBe(e.code);
      }
    }
  }
  return lines.join("\n");
}

const CALLERS = [
  { who: "root", setpriv: [] as string[], privileged: true, obeysModes: false },
  { who: "another user", setpriv: AS_NOBODY, privileged: false, obeysModes: true },
  { who: "root without CAP_SYS_ADMIN", setpriv: ["--inh-caps=-sys_admin", "--bounding-set=-sys_admin"], privileged: false, obeysModes: false },
];

/** AS_NOBODY's ids: no supplementary groups. */
const NOBODY = 65534;

/** Whether nobody holds `bit` (4 read, 1 search) on an entry, by the owner, group or other bits as the VFS picks them. */
function nobodyMay(e: ManifestEntry, bit: number): boolean {
  const shift = e.uid === NOBODY ? 6 : e.gid === NOBODY ? 3 : 0;
  return ((e.perm >> shift) & bit) !== 0;
}

/**
 * The entries another user's probe cannot ask erofs about. The VFS checks file modes
 * before a filesystem sees the call: the probe's walk lists only directories it may read
 * and reach, and getxattr of user.* of a file or directory, or of a name outside the four
 * namespaces, needs read permission on the entry (EACCES without it). The library leaves
 * file modes to its caller (erofs-fuse mounts with default_permissions, so the kernel
 * checks them there), so these entries are left out of that caller's comparison.
 */
function beyondNobody(entries: readonly ManifestEntry[]): Set<string> {
  const byPath = new Map(entries.map((e) => [typeof e.path === "string" ? e.path : nameBytes(e.path).toString(), e]));
  const beyond = new Set<string>();
  for (const [rel, e] of byPath) {
    const parts = rel ? rel.split("/") : [];
    const ancestors = parts.map((_, i) => byPath.get(parts.slice(0, i).join("/"))!);
    if (!nobodyMay(e, 4) || ancestors.some((a) => !nobodyMay(a, 4) || !nobodyMay(a, 1))) beyond.add(rel);
  }
  return beyond;
}

describe("xattrs as the kernel answers callers with and without CAP_SYS_ADMIN", () => {
  it("the fixtures hold what the rules are about", () => {
    const special = loadManifest(join(images.find((f) => f.name.endsWith("xattrs-special"))!.manifest)).entries;
    expect(special.map((e) => e.type).sort()).toEqual(["chardev", "dir", "dir", "fifo", "file", "symlink"]);
    // Entries another user may not read, a directory among them (composefs's whiteout is mode 0).
    const composefs = loadManifest(join(images.find((f) => f.name.endsWith("composefs-v1"))!.manifest)).entries;
    expect([...beyondNobody(composefs)].sort()).toEqual(expect.arrayContaining(["gone", "usr/lib", "usr/lib/backed"]));
  });

  it("this process is privileged when root (CI runs as root)", () => {
    if (process.getuid?.() === 0) expect(hasCapSysAdmin()).toBe(true);
    expect(hasCapSysAdmin(0)).toBe(false);
    expect(hasCapSysAdmin(2 ** 31)).toBe(false); // no such process
  });

  for (const img of images) {
    for (const c of CALLERS) {
      it(`${img.name}, ${c.who}`, async (ctx) => {
        const k = KernelMount.tryMount(img.image);
        const runnable = c.setpriv === AS_NOBODY ? nobodyReaches(k?.dir ?? "/") : !c.setpriv.length || spawnSync("setpriv", ["--version"]).status === 0;
        if (!k || !existsSync(PYTHON) || !runnable) {
          k?.unmount();
          return ctx.skip();
        }
        const fs = await mount(img.image);
        try {
          const entries = loadManifest(img.manifest).entries;
          // Every name the image lists somewhere is asked of every entry too: an entry may
          // hold one that the kernel neither lists nor finds there (fixtures/metabox-xattrs).
          const listed = new Set(entries.flatMap((e) => Object.keys(e.xattrs ?? {})).filter((n) => /^[\x21-\x7e]+$/.test(n)));
          // And each with its last byte changed: same namespace and length, so only the
          // comparison of the stored name itself turns it away, where the name filter lets
          // it through (several variants, as each passes an inode's filter only by chance).
          const twins = [...listed].flatMap((n) => [..."ABCD"].map((c) => n.slice(0, -1) + c)).filter((n) => !listed.has(n));
          const extraNames = [...EXTRA_NAMES, ...[...listed, ...twins].sort()];
          const cmd = c.setpriv.length ? "setpriv" : PYTHON;
          const beyond = c.obeysModes ? beyondNobody(entries) : new Set<string>();
          const args = [...(c.setpriv.length ? [...c.setpriv, PYTHON] : []), "-c", PROBE, k.dir, extraNames.join("\n"), JSON.stringify([...beyond])];
          const kernel = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
          expect(kernel.status, kernel.stderr).toBe(0);
          const paths = entries.map((e) => (typeof e.path === "string" ? e.path : nameBytes(e.path).toString())).filter((p) => !beyond.has(p));
          expect(await vfsProbe(fs, paths, extraNames, c.privileged)).toBe(kernel.stdout.trimEnd());
        } finally {
          await fs.unmount();
          k.unmount();
        }
      });
    }
  }
});
