import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, opendirSync, readFileSync, readdirSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, KernelMount, WIDE_ENTRIES, canCorruptInodes, canMakeWideImage, corruptInodes, corruptWideBlock, renameEntry, repointEntry, scrambleWideNames, dumpExtents, ensureCorpus, loadManifest, makeWideImage, nameBytes, repoRoot, wideEntryName, hasCommand } from "@erofs-ts/testkit";
import { ENTRY, FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, mountOptionsOf, mountedPaths, runFuse, waitFor } from "./harness.js";

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const demo = join(repoRoot(), "fixtures/demo.erofs");
const demoSrc = join(repoRoot(), "fixtures/demo-src");
const hasDump = hasCommand("dump.erofs");

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `view` of a kernel mount of `image`, or undefined where the kernel cannot mount it (not root). */
function kernelView<T>(image: string, view: (dir: string) => T): T | undefined {
  const kernel = KernelMount.tryMount(image);
  if (!kernel) return undefined;
  try {
    return view(kernel.dir);
  } finally {
    kernel.unmount();
  }
}

/** What lstat(2) gives for `path`: its mode in octal, or the error's code. */
function lstatOutcome(path: string): string {
  try {
    return lstatSync(path).mode.toString(8);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe.skipIf(!FUSE_AVAILABLE)("erofs-fuse lifecycle and failures", () => {
  let daemon: FuseDaemon | null = null;
  const scratch: string[] = [];
  afterEach(async () => {
    if (daemon?.running) await daemon.stop();
    else daemon?.kill();
    daemon = null;
    for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  /** A directory removed after the test, with an empty mountpoint in it. */
  const scratchMountpoint = (prefix: string): { dir: string; mnt: string } => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    scratch.push(dir);
    const mnt = join(dir, "m");
    mkdirSync(mnt);
    return { dir, mnt };
  };

  it("SIGTERM unmounts every mount and ends the daemon", async () => {
    daemon = await FuseDaemon.start([{ image: demo }, { image: demo }]);
    for (const m of daemon.mountpoints) expect(mountedPaths().has(m)).toBe(true);
    // Untrusted images: read-only, and setuid bits and device nodes grant nothing.
    expect(mountOptionsOf(daemon.mountpoints[0]!)).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev"]));
    expect(readFileSync(join(daemon.mountpoints[1]!, "hello.txt"))).toEqual(readFileSync(join(demoSrc, "hello.txt")));
    const mounts = [...daemon.mountpoints];
    await daemon.stop(); // throws if a mount is left
    for (const m of mounts) expect(mountedPaths().has(m)).toBe(false);
    daemon = null;
  });

  it.skipIf(!corpus)("generic mount flags reach the mount: noexec refuses execution, noatime shows", async () => {
    // meta/f0 of the bit48 image has mode 4755. access(2) answers X_OK for it on a mount
    // with exec, and EACCES on a noexec mount (the kernel checks the mount's flag there).
    const image = join(corpus!, "bit48.erofs");
    const canExecute = (path: string) => {
      try {
        accessSync(path, constants.X_OK);
        return "yes";
      } catch (e) {
        return (e as NodeJS.ErrnoException).code;
      }
    };
    daemon = await FuseDaemon.start([{ image }, { image, options: "noexec,noatime,nosuid,nodev,default_permissions" }]);
    const [plain, flagged] = daemon.mountpoints as [string, string];
    expect(mountOptionsOf(flagged)).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev", "noexec", "noatime"]));
    expect(mountOptionsOf(plain)).not.toContain("noexec");
    expect(canExecute(join(plain, "meta/f0"))).toBe("yes");
    expect(canExecute(join(flagged, "meta/f0"))).toBe("EACCES");
  });

  it.skipIf(!existsSync("/sbin/mount.fuse3"))("mount(8) of an fstab-style entry goes through mount.fuse3 and ends with umount", async () => {
    // mount.fuse3 runs `PROGRAM IMAGE MOUNTPOINT -o OPTIONS` (PROGRAM#IMAGE names the
    // program; fuse.erofs-fuse would find it on mount's PATH), adding suid,dev for root:
    // the options come after the pair, and suid,dev must not fail it.
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-fstab-"));
    scratch.push(dir);
    const m = join(dir, "m");
    mkdirSync(m);
    const r = spawnSync("mount", ["-t", "fuse", `${ENTRY}#${demo}`, m, "-o", "ro,noexec"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    try {
      expect(mountOptionsOf(m)).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev", "noexec"]));
      expect(readFileSync(join(m, "hello.txt"))).toEqual(readFileSync(join(demoSrc, "hello.txt")));
    } finally {
      execFileSync("umount", [m]);
    }
    const daemonAlive = () => spawnSync("pgrep", ["-f", `erofs-fuse.cjs.* ${m}`]).status === 0;
    await waitFor(() => !daemonAlive(), 10_000, "the daemon to end after umount");
  });

  it("unmounting the last mount ends the daemon", async () => {
    daemon = await FuseDaemon.start([{ image: demo }, { image: demo }]);
    execFileSync("umount", [daemon.mountpoints[0]!]);
    expect(daemon.running).toBe(true);
    expect(readdirSync(daemon.mountpoints[1]!).sort()).toEqual(readdirSync(demoSrc).sort());
    execFileSync("umount", [daemon.mountpoints[1]!]);
    await waitFor(() => !daemon!.running, 10_000, "the daemon to exit");
  });

  it("a --stats file that cannot be written is reported, and the daemon keeps serving", async () => {
    daemon = await FuseDaemon.start([{ image: demo }], ["--stats", join(tmpdir(), "erofs-fuse-no-such-dir", "stats.json")]);
    process.kill(daemon.pid, "SIGUSR1");
    await new Promise((r) => setTimeout(r, 500));
    expect(daemon.running).toBe(true);
    expect(readFileSync(join(daemon.mountpoints[0]!, "hello.txt"))).toEqual(readFileSync(join(demoSrc, "hello.txt")));
  });

  it("a bad image or option fails before anything is mounted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-bad-"));
    scratch.push(dir);
    const [m1, m2] = [join(dir, "a"), join(dir, "b")];
    mkdirSync(m1);
    mkdirSync(m2);
    const notErofs = join(repoRoot(), "package.json");
    let r = await runFuse([demo, m1, notErofs, m2]);
    expect(r.status).toBe(1);
    // The message names the image that failed (several may be given).
    expect(r.stderr).toContain(`erofs-fuse: ${notErofs}: `);
    expect(r.stderr).toMatch(/^erofs-fuse: .*superblock/m);
    expect(mountedPaths().has(m1) || mountedPaths().has(m2)).toBe(false);

    // Options after the pair are that pair's (the mount.fuse3 form), here a wrong offset.
    r = await runFuse([demo, m1, "-o", "fsoffset=4096"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/superblock/);
    expect(mountedPaths().has(m1)).toBe(false);
    r = await runFuse(["-o", "nosuchoption", demo, m1]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('erofs-fuse: unknown mount option "nosuchoption"\n');
    r = await runFuse([demo]);
    expect(r.status).toBe(2);
    r = await runFuse([join(dir, "missing.erofs"), m1]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no such file/);
    // A directory given as the image: named once, with the reason.
    r = await runFuse([dir, m1]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`erofs-fuse: ${dir}: not a file or block device\n`);
    expect(mountedPaths().has(m1)).toBe(false);
    // The domain id is a secret: never echoed, not even in an error.
    r = await runFuse(["-o", "inode_share,domain_id=s3cr3t-domain", notErofs, m1]);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toContain("s3cr3t-domain");
    expect(mountedPaths().has(m1)).toBe(false);
  });

  it.skipIf(!hasDump)("a corrupt file reads as EIO; the rest of that image and other mounts keep working", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-corrupt-"));
    scratch.push(dir);
    const bad = join(dir, "bad.erofs");
    copyFileSync(demo, bad);
    const extents = dumpExtents(bad, "/docs/numbers.txt").map((e) => e.physical);
    expect(extents.length).toBeGreaterThan(2);
    // Garbage over the middle pclusters: lz4 cannot decode 0xff runs.
    const fd = openSync(bad, "r+");
    for (const [from, to] of extents.slice(1, -1)) writeSync(fd, Buffer.alloc(to - from, 0xff), 0, to - from, from);
    closeSync(fd);

    daemon = await FuseDaemon.start([{ image: bad }, { image: demo }]);
    const [mBad, mGood] = daemon.mountpoints as [string, string];
    const cat = spawnSync("cat", [join(mBad, "docs/numbers.txt")], { encoding: "utf8" });
    expect(cat.status).toBe(1);
    expect(cat.stderr).toMatch(/Input\/output error/);
    expect(daemon.running).toBe(true);
    expect(readFileSync(join(mBad, "hello.txt"))).toEqual(readFileSync(join(demoSrc, "hello.txt")));
    expect(sha256(readFileSync(join(mGood, "docs/numbers.txt")))).toBe(sha256(readFileSync(join(demoSrc, "docs/numbers.txt"))));
    const s = await daemon.stats();
    expect(s.mounts[0]!.errors).toBeGreaterThan(0);
    expect(s.mounts[1]!.errors).toBe(0);
  });

  it.skipIf(!canCorruptInodes())("inodes that cannot be read cost only their own entries: listed, and lstat fails as on a kernel mount", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-bad-inodes-"));
    scratch.push(dir);
    const damaged = corruptInodes(demo, join(dir, "bad-inodes.erofs"), ["/hello.txt", "/docs"]);
    daemon = await FuseDaemon.start([{ image: damaged }]);
    const m = daemon.mountpoints[0]!;
    // READDIRPLUS carries each entry's attributes: one unreadable inode failed the page.
    const outcome = (root: string) =>
      readdirSync(root)
        .sort()
        .map((name) => `${name} ${lstatOutcome(join(root, name))}`);
    const seen = outcome(m);
    expect(seen).toEqual(["docs ENOTSUP", "greeting 120777", "hello.txt ENOTSUP"]);
    // The symlink is sound; what it points at is not.
    expect(() => readFileSync(join(m, "greeting"))).toThrow(/ENOTSUP/);
    expect(daemon.running).toBe(true);
    const kernel = kernelView(damaged, outcome);
    if (kernel) expect(seen).toEqual(kernel);
  });

  it.skipIf(!canCorruptInodes())("an entry naming a directory on its own path again is ELOOP, as on a kernel mount", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-named-again-"));
    scratch.push(dir);
    // docs/README.md made to name the root, or docs itself: a directory would have two names.
    const images = ["/", "/docs"].map((target, i) => repointEntry(demo, join(dir, `again-${i}.erofs`), "/docs", "README.md", target));
    daemon = await FuseDaemon.start(images.map((image) => ({ image })));
    const outcome = (root: string) => `${readdirSync(join(root, "docs")).sort().join(",")} ${lstatOutcome(join(root, "docs/README.md"))}`;
    for (const [i, image] of images.entries()) {
      const seen = outcome(daemon.mountpoints[i]!);
      // Without the daemon's own check, FUSE turns a LOOKUP answered with the root's nodeid into EIO.
      expect(seen).toBe("README.md,numbers.txt ELOOP");
      const kernel = kernelView(image, outcome);
      if (kernel) expect(seen).toBe(kernel);
    }
    expect(daemon.running).toBe(true);
  });

  it.skipIf(!canCorruptInodes())("a name holding '/': the listing gives the entries before it, then EIO, as on a kernel mount", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-slash-name-"));
    scratch.push(dir);
    // Sorted ".", "..", "docs", "greeting", "hello.txt": the last is renamed.
    const damaged = renameEntry(demo, join(dir, "slash.erofs"), "/", "hello.txt", "hello/txt");
    daemon = await FuseDaemon.start([{ image: damaged }]);
    // What getdents(2) gives, call by call, until the end or an error.
    const listing = (root: string) => {
      const names: string[] = [];
      const d = opendirSync(root);
      try {
        for (let e = d.readSync(); e; e = d.readSync()) names.push(e.name);
        return `${names.join(",")} end`;
      } catch (e) {
        return `${names.join(",")} ${(e as NodeJS.ErrnoException).code}`;
      } finally {
        d.closeSync();
      }
    };
    const seen = listing(daemon.mountpoints[0]!);
    const kernel = kernelView(damaged, listing);
    expect(kernel).toBeDefined();
    expect(seen).toBe(kernel);
    expect(seen).toMatch(/ EIO$/);
    expect(daemon.running).toBe(true);
  });

  it.skipIf(!canMakeWideImage())("a directory with names out of order: each listed name's lstat answers as on a kernel mount", async () => {
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-names-out-of-order-"));
    scratch.push(dir);
    const damaged = join(dir, "scrambled.erofs");
    scrambleWideNames(makeWideImage(dir), damaged, 7);
    daemon = await FuseDaemon.start([{ image: damaged }]);
    // READDIRPLUS hands the kernel each entry's attributes, which makes lstat of a listed
    // name succeed without a LOOKUP: given for a name the kernel's own lookup misses (its
    // binary search on names out of order), the mount found files a kernel mount does not.
    const outcome = (root: string) =>
      readdirSync(join(root, "wide"))
        .sort()
        .map((name) => {
          try {
            return `${name} ino ${lstatSync(join(root, "wide", name), { bigint: true }).ino}`;
          } catch (e) {
            return `${name} ${(e as NodeJS.ErrnoException).code}`;
          }
        });
    const seen = outcome(daemon.mountpoints[0]!);
    const kernel = kernelView(damaged, outcome);
    expect(kernel).toBeDefined();
    expect(seen).toEqual(kernel);
    expect(seen.filter((line) => / ENOENT$/.test(line)).length).toBeGreaterThan(10);
    expect(daemon.running).toBe(true);
  });

  it("a file whose pcluster is read in two formats stays refused (EOPNOTSUPP, the kernel's answer) after the kernel retries page by page", async () => {
    // fixtures/zstd-mixed-pcluster.erofs (see vfs's mixed-pcluster test): after a failed
    // READ the kernel asks again a page at a time; each page alone must not decode.
    const image = join(repoRoot(), "fixtures/zstd-mixed-pcluster.erofs");
    daemon = await FuseDaemon.start([{ image }]);
    const [m] = daemon.mountpoints as [string];
    const cat = spawnSync("cat", [join(m, "CHANGELOG.md")], { encoding: "utf8" });
    expect(cat.status).toBe(1);
    expect(cat.stdout).toBe("");
    expect(cat.stderr).toMatch(/Operation not supported/);
    const page = spawnSync("dd", [`if=${join(m, "CHANGELOG.md")}`, "bs=4096", "skip=2", "count=1", "status=none"]);
    expect(page.status).toBe(1);
    expect(page.stdout.length).toBe(0);
    expect(daemon.running).toBe(true);
    const manifest = loadManifest(join(repoRoot(), "fixtures/zstd-short-extents.manifest.json"));
    const readme = manifest.entries.find((e) => e.path === "README.md")!;
    expect(sha256(readFileSync(join(m, "README.md")))).toBe(readme.sha256);
  });

  it.skipIf(!canMakeWideImage())("a directory with a corrupt block lists its first entries; the corrupt part is EIO", async () => {
    // READDIR pages read only the blocks they list: a daemon that read the whole
    // directory first (or held it all) would fail the first page, or all of memory for
    // an image claiming a huge one.
    const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-wide-"));
    scratch.push(dir);
    const damaged = corruptWideBlock(makeWideImage(dir), join(dir, "damaged.erofs"));
    daemon = await FuseDaemon.start([{ image: damaged }]);
    const listing = opendirSync(join(daemon.mountpoints[0]!, "wide"));
    try {
      const first = Array.from({ length: 20 }, () => listing.readSync()?.name);
      expect(first).toEqual(Array.from({ length: 20 }, (_, i) => wideEntryName(i)));
      let more = 0;
      expect(() => {
        while (listing.readSync()) more++;
      }).toThrow(/EIO/);
      expect(more).toBeGreaterThan(WIDE_ENTRIES / 2);
    } finally {
      listing.closeSync();
    }
    expect(daemon.running).toBe(true);
    expect(readFileSync(join(daemon.mountpoints[0]!, "wide", wideEntryName(7)), "utf8")).toBe("7\n");
  });

  it("-f serves from a process started with the daemon's Node and malloc settings, which ends, unmounting, when the foreground one is told to; a failing start gives its status", async () => {
    const { dir, mnt } = scratchMountpoint("erofs-fuse-fg-");
    const pidPath = join(dir, "pid");
    const child = spawn(process.execPath, [ENTRY, "-f", "--pidfile", pidPath, demo, mnt], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    let served = 0;
    try {
      await waitFor(() => existsSync(pidPath) && mountedPaths().has(mnt), 20_000, "the mount");
      served = Number(readFileSync(pidPath, "utf8"));
      expect(served).not.toBe(child.pid);
      expect(readFileSync(`/proc/${served}/cmdline`, "utf8").split("\0")).toContain("--max-semi-space-size=2");
      expect(readFileSync(`/proc/${served}/environ`, "utf8").split("\0")).toEqual(expect.arrayContaining(["MALLOC_ARENA_MAX=1", "MALLOC_MMAP_THRESHOLD_=131072"]));
      expect(readFileSync(join(mnt, "hello.txt"))).toEqual(readFileSync(join(demoSrc, "hello.txt")));
      child.kill("SIGTERM");
      expect(await closed).toBe(0);
      expect(mountedPaths().has(mnt)).toBe(false);
      expect(existsSync(`/proc/${served}`)).toBe(false);
      expect(log).toMatch(/SIGTERM: unmounting/);
    } finally {
      // After a failed check: neither process nor the mount outlives the test.
      child.kill("SIGKILL");
      if (served && existsSync(`/proc/${served}`)) process.kill(served, "SIGKILL");
      if (mountedPaths().has(mnt)) spawnSync("umount", ["-l", mnt]);
    }
    // An image that fails: the served process's message and status 1, nothing mounted.
    const bad = join(dir, "bad.erofs");
    copyFileSync(demo, bad);
    const fd = openSync(bad, "r+");
    writeSync(fd, new Uint8Array(4), 0, 4, 1024); // the superblock's magic
    closeSync(fd);
    const r = await runFuse(["-f", bad, mnt]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^erofs-fuse: .*not an EROFS image/m);
    expect(mountedPaths().has(mnt)).toBe(false);
  });

  it("-f serves in the process itself when it was started with those settings (as a service unit may give them)", async () => {
    const { dir, mnt } = scratchMountpoint("erofs-fuse-fg-");
    const pidPath = join(dir, "pid");
    const env = { ...process.env, MALLOC_ARENA_MAX: "1", MALLOC_MMAP_THRESHOLD_: "131072", NODE_OPTIONS: "--max-semi-space-size=2" };
    const child = spawn(process.execPath, [ENTRY, "-f", "--pidfile", pidPath, demo, mnt], { stdio: "ignore", env });
    const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    try {
      await waitFor(() => existsSync(pidPath) && mountedPaths().has(mnt), 20_000, "the mount");
      expect(Number(readFileSync(pidPath, "utf8"))).toBe(child.pid);
      child.kill("SIGTERM");
      expect(await closed).toBe(0);
      expect(mountedPaths().has(mnt)).toBe(false);
    } finally {
      // After a failed check: neither the process nor the mount outlives the test.
      child.kill("SIGKILL");
      if (mountedPaths().has(mnt)) spawnSync("umount", ["-l", mnt]);
    }
  });

  it("-d logs each request and reply in rx/tx form; FORGETs return every lookup", async () => {
    const { dir, mnt } = scratchMountpoint("erofs-fuse-debug-");
    const child = spawn(process.execPath, [ENTRY, "-d", "--stats", join(dir, "stats.json"), demo, mnt], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    try {
      await waitFor(() => /tx \d+: OK, 64b/.test(log), 10_000, "INIT");
      await waitFor(() => mountedPaths().has(mnt), 10_000, "the mount");
      expect(readFileSync(join(mnt, "docs/README.md"))).toEqual(readFileSync(join(demoSrc, "docs/README.md")));
      await waitFor(() => /rx \d+: READ n\d+ \{fh \d+ \[0 \+\d+\)\}/.test(log), 5000, "a READ line");
      expect(log).toMatch(/\[0\] rx \d+: LOOKUP n1 "docs"\n/);
      expect(log).toMatch(/\[0\] tx \d+: OK, 128b\n/);
      expect(log).toMatch(/rx \d+: LOOKUP n\d+ "README.md"/);
      // A name that is not there: a negative entry (OK, cached), not an error.
      expect(existsSync(join(mnt, "nothing-here"))).toBe(false);
      await waitFor(() => /LOOKUP n1 "nothing-here"/.test(log), 5000, "the negative lookup");

      // Dropping the kernel's dentries and inodes sends FORGETs: the daemon's counts reach zero.
      writeFileTo("/proc/sys/vm/drop_caches", "2");
      const statsPath = join(dir, "stats.json");
      await waitFor(
        () => {
          rmSync(statsPath, { force: true });
          process.kill(child.pid!, "SIGUSR1");
          const t = Date.now();
          while (!existsSync(statsPath) && Date.now() - t < 2000) execFileSync("sleep", ["0.05"]);
          const s = JSON.parse(readFileSync(statsPath, "utf8"));
          return s.mounts[0].lookupReferences === 0;
        },
        10_000,
        "lookup counts to return to zero",
      );
      await waitFor(() => /(BATCH_)?FORGET n\d+/.test(log), 5000, "FORGET in the log");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.on("close", r));
    }
    expect(mountedPaths().has(mnt)).toBe(false);
    expect(log).toMatch(/SIGTERM: unmounting/);
  });
});

function writeFileTo(path: string, text: string): void {
  const fd = openSync(path, "w");
  writeSync(fd, text);
  closeSync(fd);
}

/** 16 processes reading the largest files at once get exact bytes. */
describe.skipIf(!FUSE_AVAILABLE)("concurrent readers", () => {
  it("16 readers of the large files", async () => {
    const image = corpus ? join(corpus, "real/app-a-lz4.erofs") : demo;
    const manifest = corpus ? loadManifest(join(corpus, "real/app-a.manifest.json")) : null;
    const files = manifest
      ? manifest.entries
          .filter((e) => e.type === "file")
          .sort((x, y) => y.size - x.size)
          .slice(0, 8)
          .map((e) => ({ path: nameBytes(e.path).toString("utf8"), sha256: e.sha256! }))
      : [{ path: "docs/numbers.txt", sha256: sha256(readFileSync(join(demoSrc, "docs/numbers.txt"))) }];
    const d = await FuseDaemon.start([{ image }]);
    try {
      const mnt = d.mountpoints[0]!;
      // Twice each of the 8 largest: pairs race on the same pages.
      const jobs = Array.from({ length: 16 }, (_, i) => files[i % files.length]!);
      const results = await Promise.all(
        jobs.map(
          (f) =>
            new Promise<string>((resolve) => {
              const c = spawn("sha256sum", [join(mnt, f.path)], { stdio: ["ignore", "pipe", "ignore"] });
              let out = "";
              c.stdout.on("data", (b: Buffer) => (out += b.toString()));
              c.on("close", () => resolve(out.split(" ")[0]!));
            }),
        ),
      );
      expect(results).toEqual(jobs.map((f) => f.sha256));
    } finally {
      await d.stop();
    }
  });
});
