import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AS_NOBODY, CORPUS_ABSENT, KernelMount, ensureCorpus, nobodyReaches, repoRoot } from "@erofs-ts/testkit";
import { FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const fixtures = join(repoRoot(), "fixtures");
const images = [
  join(fixtures, "demo.erofs"),
  join(fixtures, "xattrs.erofs"),
  join(fixtures, "xattrs-special.erofs"),
  ...(corpus ? ["plain", "lz4hc-tail", "chunk-indexes", "metazone"].map((n) => join(corpus, `${n}.erofs`)) : []),
];

/** A command's output with the mount's path replaced, so two mounts of one image compare. */
function run(cmd: string, args: string[], mnt: string, cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "buffer", maxBuffer: 1 << 28 });
  const text = Buffer.concat([r.stdout, Buffer.from(`\n[stderr]\n`), r.stderr, Buffer.from(`\n[exit ${r.status}]`)]).toString("latin1");
  return text.split(mnt).join("MNT");
}

/**
 * The tools people point at a mount (cat, ls -lR, stat, getfattr -d, find) print the same
 * through erofs-fuse as through the kernel's own erofs driver, for the same image.
 */
describe.skipIf(!FUSE_AVAILABLE)("tools on an erofs-fuse mount print what they print on a kernel mount", () => {
  let daemon: FuseDaemon | null = null;
  const kernels: (KernelMount | null)[] = [];
  beforeAll(async () => {
    daemon = await FuseDaemon.start(images.map((image) => ({ image })));
    for (const image of images) kernels.push(KernelMount.tryMount(image));
  });
  afterAll(async () => {
    for (const k of kernels) k?.unmount();
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
  });

  images.forEach((image, i) => {
    it(image.split("/").pop()!, (ctx) => {
      const kernel = kernels[i];
      if (!kernel) return ctx.skip();
      const fuse = daemon!.mountpoints[i]!;
      const same = (cmd: string, args: (m: string) => string[], cwd = false) => {
        expect(run(cmd, args(fuse), fuse, cwd ? fuse : undefined), `${cmd} ${args("MNT").join(" ")}`).toBe(
          run(cmd, args(kernel.dir), kernel.dir, cwd ? kernel.dir : undefined),
        );
      };
      same("ls", (m) => ["-lRAn", "--time-style=full-iso", m]);
      same("find", (m) => [m, "-printf", "%p %y %m %n %U %G %s %T@ %l\\n"]);
      same("getfattr", () => ["-R", "-d", "-m", "-", "-e", "hex", "-P", "."], true);
      // stat: everything but the device number, which differs between any two mounts.
      same("sh", () => ["-c", "find . -print0 | xargs -0 stat --format='%n %F %a %h %u %g %s %b %B %i %t %T %X %Y %Z %N'"], true);
      // cat of every regular file, concatenated.
      same("sh", () => ["-c", "find . -type f -print0 | sort -z | xargs -0 -r cat | sha256sum"], true);
    });
  });

  const probe = (m: string) => execFileSync("python3", ["-c", SEEK_PROBE, m], { encoding: "utf8" });

  it("readlink, statfs and SEEK_DATA/SEEK_HOLE agree too", (ctx) => {
    if (!existsSync("/usr/bin/python3")) return ctx.skip();
    images.forEach((image, i) => {
      const kernel = kernels[i];
      if (kernel) expect(probe(daemon!.mountpoints[i]!), image).toBe(probe(kernel.dir));
    });
  });

  it("getdents: the same entries, types and d_off positions (what telldir returns)", (ctx) => {
    if (!existsSync("/usr/bin/python3")) return ctx.skip();
    const dents = (m: string) => execFileSync("/usr/bin/python3", ["-c", GETDENTS_PROBE, m], { encoding: "utf8", maxBuffer: 1 << 26 });
    images.forEach((image, i) => {
      const kernel = kernels[i];
      if (kernel) expect(dents(daemon!.mountpoints[i]!), image).toBe(dents(kernel.dir));
    });
  });

  it.skipIf(!corpus)("SEEK_DATA/SEEK_HOLE over a 5 GiB file of chunk holes", async (ctx) => {
    const image = join(corpus!, "huge-sparse.erofs");
    const kernel = KernelMount.tryMount(image);
    if (!kernel || !existsSync("/usr/bin/python3")) return ctx.skip();
    const sparse = await FuseDaemon.start([{ image }]);
    try {
      const got = probe(sparse.mountpoints[0]!);
      expect(got).toContain("(5368709120, 5368721468)");
      expect(got).toBe(probe(kernel.dir));
    } finally {
      kernel.unmount();
      await sparse.stop();
    }
  });
});

/**
 * The kernel's nouser_xattr and noacl, given to erofs-fuse: what getfattr and ls show, and
 * the errors of asking for a name in a namespace turned off, are the kernel's. Each pair
 * names both switches, as options carry on to the pairs after.
 */
describe.skipIf(!FUSE_AVAILABLE)("xattr namespace options on an erofs-fuse mount act as on a kernel mount", () => {
  const settings = ["nouser_xattr,acl", "user_xattr,noacl", "nouser_xattr,noacl"];
  const image = join(fixtures, "xattrs.erofs");
  let daemon: FuseDaemon | null = null;
  const kernels: (KernelMount | null)[] = [];
  beforeAll(async () => {
    daemon = await FuseDaemon.start(settings.map((options) => ({ image, options })));
    for (const options of settings) kernels.push(KernelMount.tryMount(image, { options: options.split(",") }));
  });
  afterAll(async () => {
    for (const k of kernels) k?.unmount();
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
  });

  settings.forEach((options, i) => {
    it(options, (ctx) => {
      const kernel = kernels[i];
      if (!kernel) return ctx.skip();
      const fuse = daemon!.mountpoints[i]!;
      const same = (cmd: string, args: string[]) => {
        const got = run(cmd, args, fuse, fuse);
        expect(got, `${cmd} ${args.join(" ")}`).toBe(run(cmd, args, kernel.dir, kernel.dir));
        return got;
      };
      const listing = same("getfattr", ["-R", "-d", "-m", "-", "-e", "hex", "-P", "."]);
      expect(listing.includes("user."), "user.* listed").toBe(options.startsWith("user_xattr"));
      expect(listing.includes("system.posix_acl_access"), "ACLs listed").toBe(options.endsWith(",acl"));
      // ls -l marks a file with an ACL by a "+".
      same("ls", ["-lRAn", "--time-style=full-iso", "."]);
      for (const [name, path] of [
        ["user.root_attr", "."],
        ["user.absent", "."],
        ["user.", "."],
        ["system.posix_acl_access", "acl_dir"],
        ["system.posix_acl_default", "acl_dir"],
        ["system.posix_acl_access", "file00"],
        ["security.selinux", "file00"],
      ]) {
        same("getfattr", ["-e", "hex", "-n", name!, path!]);
      }
    });
  });
});

/**
 * Callers without CAP_SYS_ADMIN (another user, and root without it) get the kernel's
 * listing: no trusted.* names. FUSE passes LISTXATTR on unfiltered, so the daemon does it.
 */
describe.skipIf(!FUSE_AVAILABLE)("an unprivileged caller lists on an erofs-fuse mount what it lists on a kernel mount", () => {
  const image = join(fixtures, "xattrs.erofs");
  let daemon: FuseDaemon | null = null;
  let kernel: KernelMount | null = null;
  beforeAll(async () => {
    daemon = await FuseDaemon.start([{ image, options: "allow_other" }]);
    kernel = KernelMount.tryMount(image);
    // The daemon's mountpoint sits in a directory made 0700: the callers below must reach it.
    chmodSync(daemon.dir, 0o755);
  });
  afterAll(async () => {
    kernel?.unmount();
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
  });

  const callers = {
    "another user": AS_NOBODY,
    "root without CAP_SYS_ADMIN": ["--inh-caps=-sys_admin", "--bounding-set=-sys_admin"],
  };
  for (const [who, setpriv] of Object.entries(callers)) {
    it(who, (ctx) => {
      const fuse = daemon!.mountpoints[0]!;
      if (!kernel || !nobodyReaches(fuse) || !nobodyReaches(kernel.dir)) return ctx.skip();
      const as = (mnt: string, cmd: string[]) => run("setpriv", [...setpriv, ...cmd], mnt, mnt);
      const listing = as(fuse, ["getfattr", "-R", "-d", "-m", "-", "-e", "hex", "-P", "."]);
      expect(listing).toBe(as(kernel.dir, ["getfattr", "-R", "-d", "-m", "-", "-e", "hex", "-P", "."]));
      expect(listing).toContain("user.common=");
      expect(listing).not.toContain("trusted.");
      const ask = ["getfattr", "-n", "trusted.overlay.opaque", "file00"];
      expect(as(fuse, ask)).toBe(as(kernel.dir, ask));
    });
  }

  it("root with it still lists trusted.*", (ctx) => {
    if (!kernel) return ctx.skip();
    const fuse = daemon!.mountpoints[0]!;
    const listing = run("getfattr", ["-d", "-m", "-", "file00"], fuse, fuse);
    expect(listing).toContain("trusted.overlay.opaque");
    expect(listing).toBe(run("getfattr", ["-d", "-m", "-", "file00"], kernel.dir, kernel.dir));
  });
});

/** Walks a tree and prints every directory's raw getdents64 records: name, inode, d_off, d_type. */
const GETDENTS_PROBE = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_getdents64 = {"x86_64": 217, "aarch64": 61}[os.uname().machine]
def dents(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    buf = ctypes.create_string_buffer(1024)  # small: several calls per directory, resumed at d_off
    try:
        while True:
            n = libc.syscall(SYS_getdents64, fd, buf, len(buf))
            if n < 0: raise OSError(ctypes.get_errno(), "getdents64")
            if n == 0: return
            raw, p = buf.raw[:n], 0
            while p < n:
                ino, off, reclen, kind = struct.unpack_from("<QqHB", raw, p)
                yield raw[p + 19:p + reclen].split(b"\\0", 1)[0], ino, off, kind
                p += reclen
    finally:
        os.close(fd)
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    dirs.sort()
    for name, ino, off, kind in dents(d):
        print(os.path.relpath(d, root), name, ino, off, kind)
`;

/** Walks a tree and prints, per file, its SEEK_DATA/SEEK_HOLE map and statvfs of the root. */
const SEEK_PROBE = `
import os, stat, sys
root = sys.argv[1]
st = os.statvfs(root)
print("statvfs", st.f_bsize, st.f_blocks, st.f_bfree, st.f_files, st.f_namemax)
for d, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        if os.path.islink(p):
            print(rel, "->", os.readlink(p)); continue
        if not stat.S_ISREG(os.lstat(p).st_mode):
            continue  # opening a fifo would wait for a writer
        fd = os.open(p, os.O_RDONLY)
        size = os.fstat(fd).st_size
        out, pos = [], 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA); hole = os.lseek(fd, data, os.SEEK_HOLE)
            except OSError as e:
                out.append("ENXIO" if e.errno == 6 else str(e.errno)); break
            out.append((data, hole)); pos = hole
        try: os.lseek(fd, size, os.SEEK_DATA); out.append("past-end-ok")
        except OSError as e: out.append(e.errno)
        os.close(fd)
        print(rel, size, out)
`;
