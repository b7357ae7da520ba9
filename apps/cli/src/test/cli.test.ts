import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asFiemap, canCorruptInodes, canMakeWideImage, CORPUS_ABSENT, corruptInodes, corruptWideBlock, ensureCorpus, hasCommand, kernelFiemapOf, KernelMount, loadManifest, makeWideImage, mountOptionsFor, nameBytes, repoRoot, resizeInode, ScratchDir, WIDE_ENTRIES, wideEntryName, type ManifestEntry, type ReportedExtent } from "@erofs-ts/testkit";
import { DATALAYOUT } from "@erofs-ts/format";
import { mount, type Inode } from "@erofs-ts/vfs";
import { CLI, runCli } from "./run-cli.js";

const fixtures = join(repoRoot(), "fixtures");
const demo = join(fixtures, "demo.erofs");
/** The tree demo.erofs was made from (mkfs.erofs 1.5 -zlz4hc): the independent truth. */
const src = join(fixtures, "demo-src");
const scratch = new ScratchDir("erofs-cli-test-");
afterAll(scratch.remove);

/** JSON with integers beyond 2^53 kept exact (as the CLI writes them). */
function parseExact(text: string): unknown {
  return JSON.parse(text.replace(/("(?:ino|nid|mtime_ns)":\s*)(-?\d+)/g, '$1"$2"'));
}

function expectCleanFailure(r: { status: number | null; stderr: string }, status: number, pattern: RegExp) {
  expect(r.status).toBe(status);
  expect(r.stderr).toMatch(/^erofs-cli: /);
  expect(r.stderr).toMatch(pattern);
  // A clear message, never a stack trace.
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("erofs-cli on the bundled demo image", () => {
  it("cat streams one file and several, following symlinks, byte for byte", async () => {
    const one = await runCli(["cat", demo, "hello.txt"]);
    expect(one.status).toBe(0);
    expect(one.stdout.equals(readFileSync(join(src, "hello.txt")))).toBe(true);
    const many = await runCli(["cat", demo, "docs/numbers.txt", "greeting", "/docs/README.md"]);
    expect(many.status).toBe(0);
    const want = Buffer.concat(["docs/numbers.txt", "hello.txt", "docs/README.md"].map((p) => readFileSync(join(src, p))));
    expect(many.stdout.equals(want)).toBe(true);
  });

  it("cat goes on past a bad path, reports it and exits 1", async () => {
    const r = await runCli(["cat", demo, "missing", "hello.txt", "docs"]);
    expect(r.stdout.equals(readFileSync(join(src, "hello.txt")))).toBe(true);
    expectCleanFailure(r, 1, /missing: no such file/);
    expect(r.stderr).toMatch(/docs: is a directory/);
  });

  it("cat refuses a fifo and a device node, whose contents are not in the image, and goes on", async () => {
    // xattrs-special.erofs: p is a fifo, c a character device, l a symlink to d/f ("hello\n").
    const special = join(fixtures, "xattrs-special.erofs");
    const r = await runCli(["cat", special, "p", "l", "c"]);
    expect(r.stdout.toString()).toBe("hello\n");
    expectCleanFailure(r, 1, /p: is a fifo: the image holds no contents for it/);
    expect(r.stderr).toMatch(/c: is a character device: the image holds no contents for it/);
  });

  it("ls, stat and readlink agree with the source tree", async () => {
    const ls = parseExact((await runCli(["ls", demo, "--json"])).stdout.toString()) as Array<{ path: string; type: string; size: number }>;
    expect(ls.map((e) => e.path).sort()).toEqual(["docs", "greeting", "hello.txt"]);
    const lsR = await runCli(["ls", demo, "-lR"]);
    expect(lsR.status).toBe(0);
    expect(lsR.stdout.toString()).toMatch(/numbers\.txt/);
    const st = parseExact((await runCli(["stat", demo, "docs/numbers.txt", "--json"])).stdout.toString()) as Record<string, unknown>;
    const host = readFileSync(join(src, "docs/numbers.txt"));
    expect(st.type).toBe("file");
    expect(st.size).toBe(host.length);
    expect(st.uid).toBe(0); // --all-root
    expect(st.mtime_ns).toBe(String(1_700_000_000n * 1_000_000_000n)); // -T 1700000000
    const rl = await runCli(["readlink", demo, "greeting"]);
    expect(rl.stdout.toString().trim()).toBe(readlinkSync(join(src, "greeting")));
  });

  it("info --json reports the superblock", async () => {
    const info = parseExact((await runCli(["info", demo, "--json"])).stdout.toString()) as Record<string, unknown>;
    expect(info.blockSize).toBe(4096);
    expect(info.uuid).toBe("6f2b1c1e-0000-4000-8000-000000000001");
    expect(info.buildTime).toBe(1700000000);
    expect(info.composefs).toBeNull();
    expect((await runCli(["info", demo])).stdout.toString()).not.toMatch(/composefs/);
  });

  it("info names a composefs image's format, from the header mkcomposefs writes before the superblock", async () => {
    for (const v of [0, 1]) {
      const image = join(repoRoot(), "fixtures", `composefs-v${v}.erofs`);
      const info = parseExact((await runCli(["info", image, "--json"])).stdout.toString()) as Record<string, unknown>;
      expect(info.composefs).toEqual({ headerVersion: 1, formatVersion: v, flags: 0, hasAcl: false });
      expect((await runCli(["info", image])).stdout.toString()).toMatch(new RegExp(`^composefs: +format version ${v} \\(header version 1\\)$`, "m"));
    }
  });

  it("fsck decodes every file of a sound image, exits 0 and counts what the source tree holds", async () => {
    const r = await runCli(["fsck", demo, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // The source tree, walked on the host: one symlink (greeting), so "1 symlink".
    const tree = { files: 0, bytes: 0, dirs: 1, symlinks: 0 };
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const st = lstatSync(join(dir, name));
        if (st.isDirectory()) {
          tree.dirs++;
          walk(join(dir, name));
        } else if (st.isSymbolicLink()) tree.symlinks++;
        else {
          tree.files++;
          tree.bytes += st.size;
        }
      }
    };
    walk(src);
    expect(tree.symlinks).toBe(1);
    const text = (await runCli(["fsck", demo])).stdout.toString();
    const inodes = tree.files + tree.dirs + tree.symlinks;
    expect(text).toBe(`${inodes} inodes: ${tree.files} files (${tree.bytes} bytes), ${tree.dirs} directories, ${tree.symlinks} symlink, 0 other; 0 fingerprints verified; 0 errors\n`);
  });

  it("fingerprints -o replaces FILE only with a whole index, and an unwritable FILE is named", async () => {
    const index = join(scratch.path, "demo.fp");
    writeFileSync(index, "an older index\n");
    const made = await runCli(["fingerprints", demo, "-o", index]);
    expect(made.status, made.stderr).toBe(0);
    const listed = await runCli(["fingerprints", demo]);
    expect(readFileSync(index).equals(listed.stdout)).toBe(true);
    expect(readdirSync(scratch.path).filter((n) => n.includes(".partial-"))).toEqual([]);
    expectCleanFailure(await runCli(["fingerprints", demo, "-o", join(scratch.path, "no-dir", "x.fp")]), 1, /no-dir\/x\.fp: cannot write the index: .*ENOENT/);
    // An image whose file data is damaged fails mid-way, naming the file, and leaves the
    // index as it was. The first data block follows the metadata at 16 KiB.
    const damaged = join(scratch.path, "fp-damaged.erofs");
    const bytes = readFileSync(demo);
    for (let i = 16384 + 100; i < 16384 + 4000; i++) bytes[i] = bytes[i]! ^ 0x5a;
    writeFileSync(damaged, bytes);
    const failed = await runCli(["fingerprints", damaged, "-o", index]);
    expectCleanFailure(failed, 1, /fp-damaged\.erofs: \/[^:]+: lz4: /);
    expect(readFileSync(index).equals(listed.stdout)).toBe(true);
    expect(readdirSync(scratch.path).filter((n) => n.includes(".partial-"))).toEqual([]);
  });

  it("--version and -V print the package's version and exit 0", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot(), "apps/cli/package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = await runCli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.toString()).toBe(`erofs-cli ${version}\n`);
    }
  });

  it("usage errors exit 2 with the usage text", async () => {
    for (const args of [[], ["frobnicate", demo]]) {
      const r = await runCli(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^usage: erofs-cli <command>/m);
    }
  });

  it("a stdout that cannot take the output (a full disk) is one line naming stdout, and exit status 1", () => {
    // spawnSync: stdout must be the device itself, not a pipe this test reads.
    const full = openSync("/dev/full", "w");
    try {
      for (const args of [["cat", demo, "docs/numbers.txt"], ["ls", "-lR", demo]]) {
        const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ["ignore", full, "pipe"], encoding: "utf8" });
        expect(r.status, args.join(" ")).toBe(1);
        expect(r.stderr, args.join(" ")).toBe("erofs-cli: stdout: no space left on device (ENOSPC)\n");
      }
    } finally {
      closeSync(full);
    }
  });

  it("a bad command line names the command and the offending word, then that command's usage line", async () => {
    const cases: Array<[string[], string, string]> = [
      [["ls", demo, "--bogus"], "ls: unknown option --bogus", "ls IMAGE [PATH]"],
      [["ls", demo, "-lz"], "ls: unknown option -z", "ls IMAGE [PATH]"],
      [["ls", demo, "--json=yes"], "ls: --json takes no value", "ls IMAGE [PATH]"],
      [["ls", demo, "--offset"], "ls: --offset needs a value", "ls IMAGE [PATH]"],
      [["ls", demo, "--offset", "--json"], 'ls: --offset needs a value; to give "--json", write --offset=--json', "ls IMAGE [PATH]"],
      [["cat", demo, "a", "--offset", "12x"], 'cat: --offset needs a byte count, got "12x"', "cat IMAGE PATH..."],
      [["cat"], "cat: missing IMAGE", "cat IMAGE PATH..."],
      [["cat", demo], "cat: missing PATH", "cat IMAGE PATH..."],
      [["extract", demo], "extract: missing DEST", "extract IMAGE DEST"],
      [["info", demo, "extra"], "info: too many arguments", "info IMAGE"],
      // Options a command does not take are refused, not ignored: share mounts several
      // images, so no one --offset or --device can be theirs; fingerprints has no --json.
      [["share", demo, "--offset", "4096"], "share: unknown option --offset", "share IMAGE..."],
      [["share", demo, "--device", demo], "share: unknown option --device", "share IMAGE..."],
      [["share", demo, "--cache-size", "1e9"], 'share: --cache-size needs a byte count, got "1e9"', "share IMAGE..."],
      [["fingerprints", demo, "--json"], "fingerprints: unknown option --json", "fingerprints IMAGE"],
      [["cat", demo, "hello.txt", "--json"], "cat: unknown option --json", "cat IMAGE PATH..."],
    ];
    for (const [args, message, usage] of cases) {
      const r = await runCli(args);
      expect(r.status, args.join(" ")).toBe(2);
      const [first, second, ...rest] = r.stderr.split("\n");
      expect(first, args.join(" ")).toBe(`erofs-cli: ${message}`);
      expect(second, args.join(" ")).toMatch(new RegExp(`^usage: erofs-cli ${usage.replace(/[.[\]]/g, "\\$&")} `));
      expect(rest, args.join(" ")).toEqual([""]);
      expect(r.stdout.length, args.join(" ")).toBe(0);
    }
    // Every option a command's usage line shows is one it takes (with its value, if shown).
    for (const command of ["info", "ls", "stat", "cat", "readlink", "xattr", "extract", "fsck", "fingerprints", "share"]) {
      const help = await runCli([command, "--help"]);
      expect(help.status).toBe(0);
      const shown = [...help.stdout.toString().split("\n")[0]!.matchAll(/\[(--?[\w-]+)( [A-Z]+)?\]/g)];
      for (const [, option, value] of shown) {
        const r = await runCli([command, option!, ...(value ? ["1"] : []), "--help"]);
        expect(r.stderr, `${command} ${option}`).toBe("");
        expect(r.status, `${command} ${option}`).toBe(0);
      }
    }
  });

  it("extract makes missing parents of DEST, and a DEST it cannot make fails at once, naming it", async () => {
    const deep = join(scratch.path, "made", "two", "levels");
    expect((await runCli(["extract", demo, deep])).status).toBe(0);
    expect(readFileSync(join(deep, "hello.txt")).equals(readFileSync(join(src, "hello.txt")))).toBe(true);
    // Under /proc a new entry is ENOENT though the parent exists: Node's recursive mkdir
    // retried that forever. Beneath a regular file there is no directory to make.
    expectCleanFailure(await runCli(["extract", demo, "/proc/erofs-cli-no-such-dir/x"]), 1, /^erofs-cli: \/proc\/erofs-cli-no-such-dir: cannot create the directory: .*ENOENT/);
    const file = join(scratch.path, "plain-file");
    writeFileSync(file, "x");
    expectCleanFailure(await runCli(["extract", demo, join(file, "x")]), 1, /plain-file\/x: not a directory/);
  });

  it("a path the image does not have is named in the error, by every command that takes one, and nothing is made", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["ls", demo, "/nope/x"], /^erofs-cli: \/nope\/x: no such file or directory/],
      [["ls", "-l", demo, "hello.txt/x"], /^erofs-cli: hello\.txt\/x: not a directory/],
      [["stat", demo, "nope"], /^erofs-cli: nope: no such file or directory/],
      [["readlink", demo, "nope"], /^erofs-cli: nope: no such file or directory/],
      [["xattr", demo, "nope"], /^erofs-cli: nope: no such file or directory/],
      [["map", demo, "nope"], /^erofs-cli: nope: no such file or directory/],
      // As getfattr -n: the file that lacks the attribute, and the attribute.
      [["xattr", demo, "hello.txt", "-n", "user.nope"], /^erofs-cli: hello\.txt: no such attribute \(user\.nope\)/],
      [["extract", demo, join(scratch.path, "not-made"), "--path", "docs/nope"], /^erofs-cli: docs\/nope: no such file or directory/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      expectCleanFailure(r, 1, pattern);
      // The image's own path appears nowhere: the error is the path's, not the image's.
      expect(r.stderr, args.join(" ")).not.toContain(demo);
    }
    expect(readdirSync(scratch.path)).not.toContain("not-made");
  });

  it("a missing image, a non-EROFS file and a truncated image exit 1 with a clear message", async () => {
    // The image is named once, at the start, as every path in an error is.
    const missing = join(scratch.path, "nope.erofs");
    expectCleanFailure(await runCli(["ls", missing]), 1, new RegExp(`^erofs-cli: ${missing}: no such file\n$`));
    expectCleanFailure(await runCli(["ls", scratch.path]), 1, new RegExp(`^erofs-cli: ${scratch.path}: not a file or block device\n$`));
    expectCleanFailure(await runCli(["ls", join(repoRoot(), "package.json")]), 1, /package\.json: .*(superblock|EROFS)/i);
    const truncated = join(scratch.path, "truncated.erofs");
    writeFileSync(truncated, readFileSync(demo).subarray(0, 8192));
    const r = await runCli(["cat", truncated, "docs/numbers.txt"]);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.skipIf(!canCorruptInodes())("corrupt inodes cost only their own entries: ls lists every name, ls -l and fsck report each, as a kernel mount does", async () => {
    const damaged = corruptInodes(demo, join(scratch.path, "bad-inodes.erofs"), ["/hello.txt", "/docs"]);
    const names = ["docs", "greeting", "hello.txt"];
    // A plain listing needs no inode, as readdir(2).
    const plain = await runCli(["ls", damaged]);
    expect(plain.status).toBe(0);
    expect(plain.stdout.toString().trim().split("\n")).toEqual(names);
    // -l needs each inode: the two bad ones are reported, the symlink still listed.
    const long = await runCli(["ls", "-l", damaged]);
    expectCleanFailure(long, 1, /^erofs-cli: docs: unknown i_format 0xffff/m);
    expect(long.stderr).toMatch(/^erofs-cli: hello\.txt: unknown i_format 0xffff/m);
    expect(long.stdout.toString()).toMatch(/^l.* greeting -> hello\.txt\n$/);
    const fsck = await runCli(["fsck", damaged]);
    expectCleanFailure(fsck, 1, /^erofs-cli: docs: unknown i_format/m);
    expect(fsck.stderr).toMatch(/^erofs-cli: hello\.txt: unknown i_format/m);
    expect(fsck.stdout.toString()).toMatch(/2 errors/);
    // The kernel agrees on which entries can be looked at (needs root: else the above stands alone).
    const kernel = KernelMount.tryMount(damaged);
    if (!kernel) return;
    try {
      expect(readdirSync(kernel.dir).sort()).toEqual(names);
      const readable = names.filter((n) => {
        try {
          lstatSync(join(kernel.dir, n));
          return true;
        } catch {
          return false;
        }
      });
      expect(readable).toEqual(["greeting"]);
    } finally {
      kernel.unmount();
    }
  });

  it("a corrupted superblock checksum is refused", async () => {
    const bad = join(scratch.path, "badsum.erofs");
    const bytes = readFileSync(demo);
    bytes[1024 + 0x18] = bytes[1024 + 0x18]! ^ 0xff; // a byte covered by the crc32c (the superblock's build time)
    writeFileSync(bad, bytes);
    expectCleanFailure(await runCli(["info", bad]), 1, /checksum/i);
  });
});

const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);

describe.skipIf(!corpus)("erofs-cli on a 5 GiB file read once keeps none of it: memory as for a 6-byte file", () => {
  // Read in beforeAll: without the corpus this body still runs, to list the skipped tests.
  let img: string;
  let entry: (path: string) => ManifestEntry;
  let huge: ManifestEntry;
  // Python measures erofs-cli from outside: its peak RSS (the largest waited-for child's)
  // and the sha256 of what it wrote to a pipe.
  const script = [
    "import fcntl, hashlib, resource, subprocess, sys",
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)",
    "fcntl.fcntl(p.stdout, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer round trips for 5 GiB",
    "h = hashlib.sha256()",
    "for block in iter(lambda: p.stdout.read(1 << 20), b''): h.update(block)",
    "print(p.wait(), h.hexdigest(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
  ].join("\n");
  const measured = (args: string[]) => {
    const r = spawnSync("python3", ["-c", script, process.execPath, CLI, ...args], { encoding: "utf8" });
    const [status, sha256, peakKiB] = r.stdout.trim().split(" ");
    return { status: Number(status), sha256, peakBytes: Number(peakKiB) * 1024 };
  };
  // The vfs's default page cache alone is 64 MiB: kept pages would show.
  const KEPT_AT_MOST = 32 * 2 ** 20;
  let small: ReturnType<typeof measured>;
  beforeAll(() => {
    img = join(corpus!, "huge-sparse.erofs");
    const m = loadManifest(join(corpus!, "huge-sparse.manifest.json"));
    entry = (path) => m.entries.find((e) => nameBytes(e.path).toString() === path)!;
    huge = entry("huge_sparse");
    expect(huge.size).toBeGreaterThan(4 * 2 ** 30);
    small = measured(["cat", img, "small"]);
    expect([small.status, small.sha256]).toEqual([0, entry("small").sha256]);
  });

  it("cat streams it, byte for byte through a pipe", () => {
    const big = measured(["cat", img, "huge_sparse"]);
    expect([big.status, big.sha256]).toEqual([0, huge.sha256]);
    expect(big.peakBytes - small.peakBytes).toBeLessThan(KEPT_AT_MOST);
  });

  it("fingerprints hashes it", () => {
    const index = join(scratch.path, "huge-sparse.fingerprints");
    const r = measured(["fingerprints", img, "-o", index]);
    expect(r.status).toBe(0);
    expect(readFileSync(index, "utf8")).toContain(` ${huge.size} sha256:${huge.sha256}\n`);
    expect(r.peakBytes - small.peakBytes).toBeLessThan(KEPT_AT_MOST);
  });
});

describe.skipIf(!corpus)("erofs-cli --offset and --device on corpus images", () => {
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const firstFile = (name: string) => {
    const m = loadManifest(join(corpus!, `${name}.manifest.json`));
    const e = m.entries.find((x) => x.type === "file" && x.size > 0)!;
    return { path: nameBytes(e.path).toString(), sha256: e.sha256! };
  };

  it("--offset reads an image that starts inside a file, and without it the image is refused", async () => {
    const f = firstFile("offset");
    const img = join(corpus!, "offset.erofs");
    const m = loadManifest(join(corpus!, "offset.manifest.json"));
    const offset = m.mount_options.match(/fsoffset=(\d+)/)![1]!;
    const r = await runCli(["cat", img, f.path, "--offset", offset]);
    expect(r.status).toBe(0);
    expect(sha(r.stdout)).toBe(f.sha256);
    expect((await runCli(["cat", img, f.path])).status).toBe(1);
  });

  for (const name of ["blobdev", "tar-index"]) {
    it(`--device serves ${name}'s data from the extra device; without it the error names the device`, async () => {
      const m = loadManifest(join(corpus!, `${name}.manifest.json`));
      const device = join(corpus!, m.mount_options.match(/device=([^,]+)/)![1]!);
      const files = m.entries.filter((e) => e.type === "file" && e.size > 0).slice(0, 5);
      for (const e of files) {
        const r = await runCli(["cat", join(corpus!, `${name}.erofs`), nameBytes(e.path).toString(), "--device", device]);
        expect(r.status).toBe(0);
        expect(sha(r.stdout)).toBe(e.sha256);
      }
      const without = await runCli(["cat", join(corpus!, `${name}.erofs`), nameBytes(files[0]!.path).toString()]);
      expectCleanFailure(without, 1, /device/i);
    });
  }

  it.skipIf(process.getuid?.() !== 0)("map --json reports each file's extents as the kernel's FIEMAP does, and the table says the same", async () => {
    // A fragment, ztailpacking and dedupe; an image inside a file; data on an extra device.
    for (const name of ["lz4-fragments-dedupe", "lz4hc-tail", "offset", "blobdev"]) {
      const m = loadManifest(join(corpus!, `${name}.manifest.json`));
      const { devices, fsoffset } = mountOptionsFor(m, join(corpus!, `${name}.erofs`));
      const kernel = kernelFiemapOf(join(corpus!, `${name}.erofs`), { devices, fsoffset });
      if (!kernel) throw new Error(`the kernel does not mount ${name}`);
      const image = [join(corpus!, `${name}.erofs`), ...devices.flatMap((d) => ["--device", d]), ...(fsoffset ? ["--offset", String(fsoffset)] : [])];
      // Names that are not UTF-8 cannot be passed as arguments from here.
      const files = m.entries.filter((e) => e.type === "file" && typeof e.path === "string").map((e) => e.path as string);
      const json = await runCli(["map", ...image, ...files, "--json"]);
      expect(json.status, json.stderr).toBe(0);
      const extents = JSON.parse(json.stdout.toString()) as Array<ReportedExtent & { path: string; physicalLength: number }>;
      const ours = new Map(files.map((f) => [Buffer.from(f).toString("hex"), asFiemap(extents.filter((e) => e.path === f))]));
      expect([...ours].sort(), name).toEqual([...kernel].filter(([hex]) => ours.has(hex)).sort());
      expect(ours.size, name).toBeGreaterThan(0);
      // The table: one row per extent, in the same order, under a header per path.
      const table = await runCli(["map", ...image, ...files]);
      const rows = table.stdout.toString().split("\n").filter((l) => /^\s+\d/.test(l));
      expect(rows.map((r) => r.trim().split(/\s+/).slice(0, 2).map(Number)), name).toEqual(extents.map((e) => [e.logical, e.length]));
    }
  });

  it("xattr --json and -n report what the kernel listed", async () => {
    const img = join(corpus!, "xattrs.erofs");
    const m = loadManifest(join(corpus!, "xattrs.manifest.json"));
    for (const e of m.entries.filter((x) => Object.keys(x.xattrs).length).slice(0, 10)) {
      const path = nameBytes(e.path).toString() || "/";
      const got = JSON.parse((await runCli(["xattr", img, path, "--json"])).stdout.toString()) as Record<string, string>;
      expect(got).toEqual(e.xattrs);
      const [name, value] = Object.entries(e.xattrs)[0]!;
      const one = await runCli(["xattr", img, path, "-n", name, "--json"]);
      expect(one.status).toBe(0);
      expect(JSON.parse(one.stdout.toString())).toEqual({ [name]: value });
    }
    expectCleanFailure(await runCli(["xattr", img, "file10", "-n", "user.absent"]), 1, /user\.absent|no data|ENODATA/i);
  });

  it("fsck checks fingerprints and sizes on a compressed image", async () => {
    const r = await runCli(["fsck", join(corpus!, "fingerprint.erofs")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // Flip one byte inside a compressed extent: fsck must notice and exit 1 without a trace.
    const bad = join(scratch.path, "fp-bad.erofs");
    copyFileSync(join(corpus!, "fingerprint.erofs"), bad);
    const bytes = readFileSync(bad);
    bytes[bytes.length - 64 * 1024] = bytes[bytes.length - 64 * 1024]! ^ 0x5a;
    writeFileSync(bad, bytes);
    const r2 = await runCli(["fsck", bad]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).not.toMatch(/\n\s+at /);
  });

  it("fsck reports a DEFLATE stream that ends short in its extent's last page, which cat reads as a kernel mount does (the stale bytes as zeros)", async () => {
    const image = join(corpus!, "libdeflate.erofs");
    expect((await runCli(["fsck", image])).status).toBe(0);
    // Fuzz mutant 521393's flip, inside log.txt's first pcluster (the vfs test
    // deflate-short.test.ts checks where it lands): that stream ends 2 bytes short.
    const bytes = readFileSync(image);
    bytes[0x375c] = bytes[0x375c]! ^ 0x40;
    const bad = join(scratch.path, "deflate-short.erofs");
    writeFileSync(bad, bytes);
    const cat = await runCli(["cat", bad, "log.txt"]);
    expect(cat.status, cat.stderr.toString()).toBe(0);
    expect(cat.stdout.length).toBe(1037720);
    expectCleanFailure(await runCli(["fsck", bad]), 1, /^erofs-cli: \/: 1 DEFLATE pclusters end short of their last page/m);
  });

  it("fsck verifies every sha256 fingerprint, and names a stored file whose bytes do not match", async () => {
    const image = join(corpus!, "fingerprint.erofs");
    // The files that carry one, by the vfs: each must be counted as verified.
    const fs = await mount(image);
    const bs = fs.statfs().bsize;
    let withDigest = 0;
    let stored: { path: string; offset: number } | undefined;
    const seen = new Set<bigint>();
    const walk = async (dir: Inode, prefix: string): Promise<void> => {
      for (const e of await fs.readdir(dir)) {
        const inode = await fs.iget(e.nid);
        const path = prefix + Buffer.from(e.name).toString();
        if (inode.kind === "dir") await walk(inode, `${path}/`);
        if (inode.kind !== "file" || seen.has(inode.nid)) continue;
        seen.add(inode.nid);
        const fp = await fs.fingerprint(inode);
        if (!fp || Buffer.from(fp.subarray(0, 7)).toString() !== "sha256:") continue;
        withDigest++;
        // A file stored as is (no decoder to notice a changed byte): only its digest can.
        if (inode.datalayout === DATALAYOUT.FLAT_PLAIN && inode.startBlock !== null && inode.size > 0) stored ??= { path, offset: inode.startBlock * bs };
      }
    };
    await walk(await fs.root(), "");
    await fs.unmount();
    const sound = await runCli(["fsck", image, "--json"]);
    expect(sound.status, sound.stderr).toBe(0);
    expect(JSON.parse(sound.stdout.toString()).fingerprintsChecked).toBe(withDigest);
    expect(withDigest).toBeGreaterThan(0);
    const bad = join(scratch.path, "fp-stored-bad.erofs");
    const bytes = readFileSync(image);
    bytes[stored!.offset] = bytes[stored!.offset]! ^ 0x01;
    writeFileSync(bad, bytes);
    const r = await runCli(["fsck", bad]);
    expectCleanFailure(r, 1, new RegExp(`${stored!.path}: content does not match its sha256 fingerprint`));
  });

  it("fingerprints -o writes an index that share --fingerprints uses to share pages across images", async () => {
    const real = (n: string) => join(corpus!, "real", `${n}.erofs`);
    const index = join(scratch.path, "app-a-plain.fp");
    const made = await runCli(["fingerprints", real("app-a-plain"), "-o", index]);
    expect(made.stderr).toBe("");
    expect(made.status).toBe(0);
    expect(readFileSync(index, "utf8")).toMatch(/^# erofs-ts fingerprints v1\nimage /);
    type Report = { cache: { bytes: number; sharedBytesServed: number }; contentBytes: number };
    const run = async (...extra: string[]) => {
      const r = await runCli(["share", real("app-a-plain"), real("app-b"), "--domain-id", "d", "--json", ...extra]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.toString()) as Report;
    };
    const shared = await run("--fingerprints", index);
    const unshared = await run("--no-share");
    expect(shared.contentBytes).toBe(unshared.contentBytes);
    expect(shared.cache.sharedBytesServed).toBeGreaterThan(40e6);
    // The corpus README: 154.2 MB of content, 105.7 MB with perfect sharing.
    expect(shared.cache.bytes / unshared.cache.bytes).toBeLessThan(0.72);
  });
});

const mkfs = hasCommand("mkfs.erofs");

describe.skipIf(!mkfs)("erofs-cli extract on an image made here (Debian's mkfs.erofs)", () => {
  it("keeps modification times before 1970, whole and fractional seconds, as the source had them", async () => {
    const tree = join(scratch.path, "old-times");
    mkdirSync(join(tree, "dir"), { recursive: true });
    const times: Record<string, bigint> = { whole: -2_147_472_000_000_000_000n, fraction: -1_500_000_000n, epoch: 0n, "dir/late": 1_700_000_000_123_456_789n };
    for (const [name, ns] of Object.entries(times)) {
      writeFileSync(join(tree, name), name);
      // GNU touch sets the nanoseconds (Node's utimes takes a double, and "now" for a negative one).
      const abs = ns < 0n ? -ns : ns;
      const text = `@${ns < 0n ? "-" : ""}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, "0")}`;
      execFileSync("touch", ["-h", "-d", text, join(tree, name)]);
    }
    for (const [name, ns] of Object.entries(times)) expect(lstatSync(join(tree, name), { bigint: true }).mtimeNs, `source ${name}`).toBe(ns);
    const image = join(scratch.path, "old-times.erofs");
    execFileSync("mkfs.erofs", [image, tree], { stdio: "ignore" });
    const dest = join(scratch.path, "old-times-out");
    const r = await runCli(["extract", image, dest]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const [name, ns] of Object.entries(times)) expect(lstatSync(join(dest, name), { bigint: true }).mtimeNs, name).toBe(ns);
  });
});

const root = process.getuid?.() === 0;

describe.skipIf(!mkfs || !root)("erofs-cli writing into a full filesystem (a 1 MiB tmpfs)", () => {
  /** The tree's i-th file: f00, f01, ... (sorted as erofs lists them). */
  const nth = (i: number) => `f${String(i).padStart(2, "0")}`;
  let full: string;
  let image: string;
  beforeAll(() => {
    // 40 files of 100 KiB that do not compress: 4 MB of content.
    const tree = join(scratch.path, "many-files");
    mkdirSync(tree);
    for (let i = 0; i < 40; i++) writeFileSync(join(tree, nth(i)), randomBytes(100 << 10));
    image = join(scratch.path, "many-files.erofs");
    execFileSync("mkfs.erofs", ["--quiet", "-zlz4", image, tree]);
    full = mkdtempSync(join(tmpdir(), "erofs-cli-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", full]);
  });
  afterAll(() => {
    if (!full) return;
    spawnSync("umount", [full]);
    rmSync(full, { recursive: true, force: true });
  });

  it("extract stops at the first entry DEST has no room for: that entry and the stop are reported, it is not left cut short, nothing after it is tried", async () => {
    const dest = join(full, "x");
    const r = await runCli(["extract", image, dest]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^erofs-cli: f\d\d: cannot write it in DEST: no space left on device \(ENOSPC\)$/);
    expect(lines[1]).toBe(`erofs-cli: ${dest}: extraction stopped: no space left on device (ENOSPC)`);
    // The files before it are there whole (extract goes in readdir order: f00, f01, ...),
    // the one that failed is gone, and nothing after it was tried.
    const failed = lines[0]!.slice("erofs-cli: ".length, "erofs-cli: ".length + 3);
    const names = readdirSync(dest).sort();
    expect(names.length).toBeGreaterThan(0);
    expect(names).toEqual(Array.from({ length: names.length }, (_, i) => nth(i)));
    expect(nth(names.length)).toBe(failed);
    for (const name of names) expect(lstatSync(join(dest, name)).size).toBe(100 << 10);
    rmSync(dest, { recursive: true, force: true });
  });

  it("fingerprints -o names FILE, not the image, when FILE does not fit, and leaves nothing behind", async () => {
    // Fill what is left, so that the index's first write fails.
    spawnSync("dd", ["if=/dev/zero", `of=${join(full, "filler")}`, "bs=64k"], { stdio: "ignore" });
    const index = join(full, "index");
    const r = await runCli(["fingerprints", image, "-o", index]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`erofs-cli: ${index}: cannot write the index: no space left on device (ENOSPC)\n`);
    expect(readdirSync(full)).toEqual(["filler"]);
  });
});

describe.skipIf(!mkfs || !canCorruptInodes())("erofs-cli on a file stating an i_size past 2^53 (a damaged image)", () => {
  it("stat and ls -l print its size and blocks exactly, as coreutils' stat on a kernel mount; cat fails cleanly", async () => {
    const tree = join(scratch.path, "huge-size");
    mkdirSync(tree);
    writeFileSync(join(tree, "f.bin"), Buffer.alloc(10_000, 7));
    const made = join(scratch.path, "huge-size-made.erofs");
    // Owners above 65535 need extended inodes, whose i_size has 64 bits.
    execFileSync("mkfs.erofs", ["--quiet", "--force-uid=100000", made, tree]);
    const size = 2n ** 60n + 4097n;
    const image = resizeInode(made, join(scratch.path, "huge-size.erofs"), "/f.bin", size);
    const st = await runCli(["stat", image, "f.bin", "--json"]);
    expect(st.stderr).toBe("");
    const json = parseExact(st.stdout.toString().replace(/("(?:size|blocks)":\s*)(\d+)/g, '$1"$2"')) as { size: string; blocks: string };
    // Blocks of 512 bytes, i_size rounded up to whole 4 KiB blocks (the kernel's i_blocks).
    expect([json.size, json.blocks]).toEqual([String(size), String(((size + 4095n) / 4096n) * 8n)]);
    const long = await runCli(["ls", "-l", image]);
    expect(long.stdout.toString()).toMatch(new RegExp(` ${size} .* f\\.bin\n$`));
    expectCleanFailure(await runCli(["cat", image, "f.bin"]), 1, /^erofs-cli: f\.bin: /);
    const kernel = KernelMount.tryMount(image);
    if (!kernel) return;
    try {
      expect(execFileSync("stat", ["-c", "%s %b", join(kernel.dir, "f.bin")], { encoding: "utf8" }).trim()).toBe(`${json.size} ${json.blocks}`);
    } finally {
      kernel.unmount();
    }
  });
});

describe.skipIf(!canMakeWideImage())("erofs-cli on a directory with a corrupt block (read as it is listed)", () => {
  it("ls prints the entries before the corrupt block, extract writes them, fsck checks them; each reports the rest and exits 1", async () => {
    const dir = join(scratch.path, "wide");
    mkdirSync(dir);
    const damaged = corruptWideBlock(makeWideImage(dir), join(dir, "damaged.erofs"));
    const ls = await runCli(["ls", damaged, "wide"]);
    expectCleanFailure(ls, 1, /EFSCORRUPTED|corrupt|nameoff/i);
    const listed = ls.stdout.toString().split("\n").filter(Boolean);
    expect(listed.slice(0, 3)).toEqual([0, 1, 2].map(wideEntryName));
    expect(listed.length).toBeGreaterThan(WIDE_ENTRIES / 2);
    expect(listed.length).toBeLessThan(WIDE_ENTRIES);
    const dest = join(dir, "out");
    const extracted = await runCli(["extract", damaged, dest]);
    expectCleanFailure(extracted, 1, /^erofs-cli: wide: /m);
    const written = readdirSync(join(dest, "wide")).sort();
    expect(written).toEqual(listed.slice().sort());
    expect(readFileSync(join(dest, "wide", wideEntryName(5)), "utf8")).toBe("5\n");
    // fsck checks what the listing held before the block, reports the block once, and
    // still gives its summary.
    const fsck = await runCli(["fsck", damaged, "--json"]);
    expectCleanFailure(fsck, 1, /^erofs-cli: wide: /m);
    const counts = JSON.parse(fsck.stdout.toString()) as { files: number; errors: number };
    expect(counts).toMatchObject({ files: listed.length, errors: 1 });
  });
});
