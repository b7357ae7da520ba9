import { execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CORPUS_ABSENT, ensureCorpus, loadManifest, nameBytes, repoRoot } from "@erofs-ts/testkit";
import { ENTRY, FUSE_ABSENT, FUSE_AVAILABLE, FuseDaemon, mountedPaths, waitFor } from "./harness.js";

const corpus = ensureCorpus();
if (!FUSE_AVAILABLE) console.log(FUSE_ABSENT);

const demo = join(repoRoot(), "fixtures/demo.erofs");
const demoSrc = join(repoRoot(), "fixtures/demo-src");
const DEMO_FILES = ["hello.txt", "docs/README.md", "docs/numbers.txt"];
/** The native poller is built wherever a C compiler is (CI installs one with the toolchain). */
const HAS_CC = spawnSync(process.env.CC || "cc", ["--version"]).status === 0;

/** A command run without blocking this process (see withDebugLog). */
const run = promisify(execFile);

const scratch: string[] = [];
afterEach(() => {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs `erofs-fuse -f -d` on one pair, calls `use` with the mountpoint, returns the log. A
 * `use` that makes many requests must not block this process (use run(), not spawnSync):
 * the daemon's log would fill its pipe, and what it still holds when it exits is lost.
 */
async function withDebugLog(image: string, options: string[], use: (mnt: string) => void | Promise<void>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "erofs-fuse-requests-"));
  scratch.push(dir);
  const mnt = join(dir, "m");
  mkdirSync(mnt);
  const child = spawn(process.execPath, [ENTRY, "-f", "-d", ...options, image, mnt], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d: Buffer) => (log += d.toString()));
  try {
    await waitFor(() => mountedPaths().has(mnt) && /tx \d+: OK, 64b/.test(log), 10_000, "the mount");
    await use(mnt);
    // Replies are logged before they are written, so everything `use` caused is in the log.
    spawnSync("umount", [mnt]);
    await new Promise((r) => child.on("close", r));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  return log;
}

/** The request lines of a -d log: "OPCODE nNODEID {args}" with the reply for each. */
function exchanges(log: string): { op: string; args: string; reply: string }[] {
  const replies = new Map<string, string>();
  for (const m of log.matchAll(/tx (\d+): (.*)\n/g)) replies.set(m[1]!, m[2]!);
  return [...log.matchAll(/rx (\d+): ([A-Z_]+) n\d+ ?(.*)\n/g)].map((m) => ({ op: m[2]!, args: m[3]!, reply: replies.get(m[1]!) ?? "" }));
}

describe.skipIf(!FUSE_AVAILABLE)("how erofs-fuse reads and answers requests", () => {
  it(`reads requests from the event loop through the native poller${HAS_CC ? "" : " (no C compiler here: the thread pool)"}`, async () => {
    const d = await FuseDaemon.start([{ image: demo }]);
    try {
      for (const f of DEMO_FILES) expect(readFileSync(join(d.mountpoints[0]!, f))).toEqual(readFileSync(join(demoSrc, f)));
      expect((await d.stats()).mounts[0]!.reader).toBe(HAS_CC ? "poll" : "thread-pool");
    } finally {
      await d.stop();
    }
  });

  it("the thread-pool reader (EROFS_FUSE_READER=pool, the fallback) serves the same bytes", async () => {
    const d = await FuseDaemon.start([{ image: demo }], [], { ...process.env, EROFS_FUSE_READER: "pool" });
    try {
      const mnt = d.mountpoints[0]!;
      for (const f of DEMO_FILES) expect(readFileSync(join(mnt, f))).toEqual(readFileSync(join(demoSrc, f)));
      expect(readdirSync(join(mnt, "docs")).sort()).toEqual(readdirSync(join(demoSrc, "docs")).sort());
      expect((await d.stats()).mounts[0]!.reader).toBe("thread-pool");
    } finally {
      await d.stop();
    }
  });

  it("without inode_share, files and directories are opened by the kernel: no OPEN, RELEASE or FLUSH round trips", async () => {
    const log = await withDebugLog(demo, [], (mnt) => {
      for (let round = 0; round < 3; round++) {
        for (const f of DEMO_FILES) expect(readFileSync(join(mnt, f))).toEqual(readFileSync(join(demoSrc, f)));
        expect(readdirSync(join(mnt, "docs")).sort()).toEqual(readdirSync(join(demoSrc, "docs")).sort());
      }
    });
    const seen = exchanges(log);
    const count = (op: string) => seen.filter((x) => x.op === op).length;
    // Each is asked once, answered ENOSYS, and never sent again.
    for (const op of ["OPEN", "OPENDIR"]) {
      expect(seen.filter((x) => x.op === op).map((x) => x.reply), op).toEqual(["ENOSYS"]);
    }
    expect(count("FLUSH")).toBeLessThanOrEqual(1);
    expect(count("RELEASE") + count("RELEASEDIR")).toBe(0);
    const reads = seen.filter((x) => x.op === "READ");
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r.args).toMatch(/^\{fh 0 /);
  });

  it.skipIf(!corpus)("with inode_share, files are opened by the daemon, which chooses their cache", async () => {
    const log = await withDebugLog(join(corpus ?? "", "real/app-a.erofs"), ["-o", "inode_share"], (mnt) => {
      // Each package's package.json: small files, several of them shared with app-b.
      for (const name of readdirSync(mnt).slice(0, 20)) {
        if (existsSync(join(mnt, name, "package.json"))) readFileSync(join(mnt, name, "package.json"));
      }
    });
    const opens = exchanges(log).filter((x) => x.op === "OPEN");
    expect(opens.length).toBeGreaterThan(1);
    for (const o of opens) expect(o.reply).toMatch(/^OK/);
    expect(exchanges(log).filter((x) => x.op === "RELEASE").length).toBe(opens.length);
  });

  it.skipIf(!corpus)("a name-only listing of a large directory carries attributes on its first page only", async () => {
    // With attributes on every page (no READDIRPLUS_AUTO, see INIT), the daemon would read
    // each listed inode, and the kernel keep one for each, for a listing that stats none.
    // Counted from the requests, not from the kernel's live nodes: another test's
    // drop_caches may take those away at any time.
    const image = join(corpus ?? "", "wide-plain.erofs");
    const bigDir = loadManifest(image.replace(/\.erofs$/, ".manifest.json")).entries.find((e) => e.path === "big_dir")!;
    const expected = bigDir.children!.map((n) => nameBytes(n).toString());
    let listing: string[] = [];
    const log = await withDebugLog(image, [], async (mnt) => {
      const dir = join(mnt, "big_dir");
      listing = await readdir(dir);
      // Stat'ing every entry then looks up those the listing gave no attributes for.
      for (const name of listing) await lstat(join(dir, name));
    });
    expect(listing.sort()).toEqual(expected.sort());
    const seen = exchanges(log);
    // Pages that listed something (each listing ends with an empty one).
    const pages = (op: string) => seen.filter((x) => x.op === op && !/^OK, 0b/.test(x.reply)).length;
    expect(pages("READDIRPLUS")).toBe(1);
    expect(pages("READDIR")).toBeGreaterThan(1);
    const names = new Set(expected.map((n) => `"${n}"`));
    expect(seen.filter((x) => x.op === "LOOKUP" && names.has(x.args)).length).toBeGreaterThan(expected.length / 2);
  });

  it.skipIf(!corpus)("a directory listed whole in one page with attributes needs no LOOKUP when its entries are stat'ed", async () => {
    // app-a's largest directory: larger than glibc's default 32 KiB listing buffer with
    // attributes, small enough for one page sized by its st_blksize (see listingBlksize).
    const image = join(corpus ?? "", "real/app-a-lz4.erofs");
    const manifest = loadManifest(join(corpus ?? "", "real/app-a.manifest.json"));
    const dirEntry = manifest.entries.filter((e) => e.type === "dir").reduce((a, b) => ((b.children?.length ?? 0) > (a.children?.length ?? 0) ? b : a));
    const dirPath = nameBytes(dirEntry.path).toString();
    const expected = dirEntry.children!.map((n) => nameBytes(n).toString());
    const aFile = manifest.entries.find((e) => e.type === "file" && nameBytes(e.path).toString().startsWith(`${dirPath}/`))!;
    let listing: string[] = [];
    let dirBlksize = 0;
    let fileBlksize = 0;
    const log = await withDebugLog(image, [], async (mnt) => {
      const dir = join(mnt, dirPath);
      dirBlksize = (await lstat(dir)).blksize;
      listing = await readdir(dir);
      for (const name of listing) await lstat(join(dir, name));
      fileBlksize = (await lstat(join(mnt, nameBytes(aFile.path).toString()))).blksize;
    });
    expect(listing.sort()).toEqual(expected.sort());
    const seen = exchanges(log);
    const listed = seen.filter((x) => /^READDIR/.test(x.op) && !/^OK, 0b/.test(x.reply));
    // The listing was more than the default buffer holds, and came in one page that fits st_blksize.
    expect(listed.map((x) => x.op)).toEqual(["READDIRPLUS"]);
    const bytes = Number(/^OK, (\d+)b/.exec(listed[0]!.reply)![1]);
    expect(bytes).toBeGreaterThan(32 << 10);
    expect(bytes).toBeLessThanOrEqual(dirBlksize);
    const names = new Set(expected.map((n) => `"${n}"`));
    expect(seen.filter((x) => x.op === "LOOKUP" && names.has(x.args))).toEqual([]);
    // Files keep the block size a kernel mount gives them.
    expect(fileBlksize).toBe(manifest.statfs.bsize);
  });

  it.skipIf(!corpus)("POSIX ACLs come from the kernel's cache once asked for, present or absent", async () => {
    const image = join(corpus ?? "", "xattrs.erofs");
    const manifest = loadManifest(image.replace(/\.erofs$/, ".manifest.json"));
    // The manifest holds values in base64; getfattr prints hex.
    const expected = Buffer.from(manifest.entries.find((e) => e.path === "acl_dir/inherit")!.xattrs["system.posix_acl_access"]!, "base64").toString("hex");
    const asksIn = async (rounds: number): Promise<number> => {
      const log = await withDebugLog(image, [], async (mnt) => {
        for (let round = 0; round < rounds; round++) {
          const r = await run("getfattr", ["--absolute-names", "-e", "hex", "-n", "system.posix_acl_access", join(mnt, "acl_dir/inherit")]);
          expect(r.stdout.match(/=0x([0-9a-f]+)/)?.[1]).toBe(expected);
          // ls -l asks about every entry, most without ACLs.
          await run("ls", ["-l", mnt, join(mnt, "acl_dir")]);
        }
      });
      return exchanges(log).filter((x) => x.op === "GETXATTR" && x.args.includes("system.posix_acl_access")).length;
    };
    const once = await asksIn(1);
    expect(once).toBeGreaterThan(2);
    // Rounds after the first hardly ask the daemon about ACLs again (the kernel forgets an
    // inode's cached ACL when it refreshes its attributes); uncached, each would ask as often.
    expect(await asksIn(4)).toBeLessThan(once * 1.5);
  });
});

if (!corpus) console.log(CORPUS_ABSENT);
