import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { repoRoot, resealSuperblock, ScratchDir } from "@erofs-ts/testkit";
import { runCli } from "./run-cli.js";

/**
 * Extraction of crafted images never creates, follows or overwrites anything outside DEST.
 * The images are fixtures/hostile/hostile-base.erofs (see make-base.sh there) with root
 * dirent names rewritten in place: "..", ".", "a/b", duplicate names where the first is a
 * symlink out of the tree and the second a directory with a file beneath, an empty name,
 * a NUL inside a name, a name that is just "/", and a hard link whose first name is
 * unusable; and with dirent nids rewritten: a directory that is the root again (a loop),
 * and a hard link to the symlink that points out of the tree.
 */
const base = readFileSync(join(repoRoot(), "fixtures/hostile/hostile-base.erofs"));
const NAMES = "aQbabsabtddeeerelremzz";
/** Root entries in dirent order; "." and ".." come first. */
const ORDER = [".", "..", "aQb", "abs", "abt", "dd", "e", "ee", "rel", "rem", "zz"];
/** Where the image's symlinks point (absolute and relative): must stay empty. */
const OUTSIDE = "/tmp/erofs-hostile-outside";

const scratch = new ScratchDir("erofs-hostile-");
// OUTSIDE's path is written in the image's symlinks, so it cannot be a fresh temporary
// name: each test makes it anew, and nothing of it is left once they are done.
afterAll(() => {
  scratch.remove();
  rmSync(OUTSIDE, { recursive: true, force: true });
});

function namesAt(image: Buffer): number {
  const at = image.indexOf(NAMES);
  expect(at).toBeGreaterThan(0);
  expect(image.indexOf(NAMES, at + 1)).toBe(-1);
  return at;
}

/** Rewrites root names (same length) in a copy of the base image. */
function renamed(renames: Record<string, string>): Buffer {
  const image = Buffer.from(base);
  const at = namesAt(image);
  let offset = at;
  for (const name of ORDER.slice(2)) {
    const to = renames[name];
    if (to !== undefined) {
      expect(to.length).toBe(name.length);
      image.write(to, offset, "latin1");
    }
    offset += name.length;
  }
  return image;
}

/** Dirent `index` of the root block: the block starts 12 bytes per dirent before the "." name. */
function direntNameoffAt(image: Buffer, index: number): number {
  const dotName = namesAt(image) - 3; // "." and ".." precede the names
  const block = dotName - ORDER.length * 12;
  expect(image.readUInt16LE(block + 8)).toBe(ORDER.length * 12);
  return block + index * 12 + 8;
}

/** Byte offset of dirent `index`'s nid in the root block. */
function direntNidAt(image: Buffer, index: number): number {
  return direntNameoffAt(image, index) - 8;
}

/** Writes a patched image with its superblock checksum redone (the root dir shares its block). */
function write(name: string, image: Buffer): string {
  const path = join(scratch.path, name);
  writeFileSync(path, resealSuperblock(image));
  return path;
}

/** Extracts into jail/dest and returns what is in the jail besides dest. */
async function extractInJail(image: string, extra: string[] = [], prepare?: (dest: string) => void) {
  const jail = mkdtempSync(join(scratch.path, "jail-"));
  const dest = join(jail, "dest");
  mkdirSync(dest);
  prepare?.(dest);
  const r = await runCli(["extract", image, dest, ...extra]);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { r, dest, jailExtra: readdirSync(jail).filter((n) => n !== "dest") };
}

function expectOutsideUntouched() {
  expect(readdirSync(OUTSIDE)).toEqual(existsSync(join(OUTSIDE, "victim")) ? ["victim"] : []);
}

describe("erofs-cli extract stays inside DEST", () => {
  beforeEach(() => {
    rmSync(OUTSIDE, { recursive: true, force: true });
    mkdirSync(OUTSIDE);
  });

  it("the unpatched base extracts completely (the crafted cases below differ only in names)", async () => {
    const { r, dest } = await extractInJail(write("base.erofs", base));
    expect(r.status).toBe(0);
    expect(readdirSync(dest).sort()).toEqual(ORDER.slice(2).sort());
    expect(readFileSync(join(dest, "abt/pwned"), "utf8")).toMatch(/beneath/);
    expectOutsideUntouched();
  });

  it('names "..", ".", "a/b" and duplicates through symlinks are refused, the rest extracted', async () => {
    const image = write("hostile.erofs", renamed({ aQb: "a/b", abt: "abs", dd: "..", e: ".", ee: "..", rem: "rel" }));
    const { r, dest, jailExtra } = await extractInJail(image);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/erofs-cli: /);
    expect(jailExtra).toEqual([]);
    expectOutsideUntouched();
    // What is safe is there: the two symlinks (as symlinks) and the hard link's second name.
    expect(readdirSync(dest).sort()).toEqual(["abs", "rel", "zz"]);
    expect(lstatSync(join(dest, "abs")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dest, "abs"))).toBe(OUTSIDE);
    expect(lstatSync(join(dest, "rel")).isSymbolicLink()).toBe(true);
    // "zz" shares its inode with the refused ".." entry: a regular file, not a link to anything outside.
    expect(lstatSync(join(dest, "zz")).isFile()).toBe(true);
    expect(readFileSync(join(dest, "zz"), "utf8")).toBe("hard-linked twice\n");
    expect(existsSync(join(scratch.path, "x"))).toBe(false);
  });

  it("an empty name makes the directory corrupt: nothing is written, exit 1", async () => {
    const image = renamed({});
    // Entry "abs" starting where "aQb" starts gives "aQb" a length of zero.
    image.writeUInt16LE(image.readUInt16LE(direntNameoffAt(image, 2)), direntNameoffAt(image, 3));
    const { r, dest, jailExtra } = await extractInJail(write("empty-name.erofs", image));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/corrupt|bogus/i);
    expect(jailExtra).toEqual([]);
    expect(readdirSync(dest)).toEqual([]);
    expectOutsideUntouched();
  });

  it('a name with a NUL byte ("a\\0b") or just "/" is refused; the rest is extracted', async () => {
    const image = renamed({ aQb: "a\0b", e: "/" });
    const { r, dest, jailExtra } = await extractInJail(write("nul-slash.erofs", image));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unsafe name/);
    expect(jailExtra).toEqual([]);
    expect(readdirSync(dest).sort()).toEqual(["abs", "abt", "dd", "ee", "rel", "rem", "zz"]);
    expectOutsideUntouched();
  });

  it("a directory entry pointing back at the root ends: no loop, nothing outside", async () => {
    const image = renamed({});
    // "dd" becomes the root directory itself: dd/dd/dd/... if followed.
    image.writeBigUInt64LE(image.readBigUInt64LE(direntNidAt(image, 0)), direntNidAt(image, ORDER.indexOf("dd")));
    const { r, dest, jailExtra } = await extractInJail(write("cycle.erofs", image));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dd: directory loop/);
    expect(jailExtra).toEqual([]);
    expect(readdirSync(dest)).not.toContain("dd");
    expect(readFileSync(join(dest, "abt/pwned"), "utf8")).toMatch(/beneath/);
    expectOutsideUntouched();
  });

  it("ls -R and fsck on that looping image end, with exit 1 and the loop named", async () => {
    const image = renamed({});
    image.writeBigUInt64LE(image.readBigUInt64LE(direntNidAt(image, 0)), direntNidAt(image, ORDER.indexOf("dd")));
    const path = write("cycle-ls.erofs", image);
    const ls = await runCli(["ls", "-R", path]);
    expect(ls.status).toBe(1);
    expect(ls.stderr).toMatch(/erofs-cli: dd: directory loop/);
    // Each directory listed once: the root's own names appear once as a heading-less block.
    expect(ls.stdout.toString().match(/^abt:$/gm)).toHaveLength(1);
    const fsck = await runCli(["fsck", path]);
    expect(fsck.status).toBe(1);
    expect(fsck.stderr).toMatch(/erofs-cli: dd: directory loop/);
  });

  it("a hard link to the symlink out of the tree links the symlink itself, never its target", async () => {
    const image = renamed({});
    // "e" (after "abs" in dirent order) gets the nid of the symlink "abs" -> OUTSIDE.
    image.writeBigUInt64LE(image.readBigUInt64LE(direntNidAt(image, ORDER.indexOf("abs"))), direntNidAt(image, ORDER.indexOf("e")));
    writeFileSync(join(OUTSIDE, "victim"), "keep me");
    const { r, dest, jailExtra } = await extractInJail(write("link-to-symlink.erofs", image));
    expect(r.status).toBe(0);
    expect(jailExtra).toEqual([]);
    expect(lstatSync(join(dest, "e")).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(dest, "e")).ino).toBe(lstatSync(join(dest, "abs")).ino);
    expect(readFileSync(join(OUTSIDE, "victim"), "utf8")).toBe("keep me");
    expect(readdirSync(OUTSIDE)).toEqual(["victim"]);
  });

  it("a hard link whose first name sits beneath a duplicate symlink name stays inside DEST", async () => {
    // "abt" renamed "abs": the directory is refused (its name is taken by the symlink), so
    // abt/pwned is never written, through the symlink or otherwise; "zz" (hard link of
    // "ee") is still a plain file.
    const image = renamed({ abt: "abs" });
    const { r, dest, jailExtra } = await extractInJail(write("dup-then-link.erofs", image));
    expect(r.status).toBe(1);
    expect(jailExtra).toEqual([]);
    expect(lstatSync(join(dest, "abs")).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(dest, "zz")).ino).toBe(lstatSync(join(dest, "ee")).ino);
    expectOutsideUntouched();
  });

  it("--force replaces a symlink planted in DEST instead of writing through it", async () => {
    writeFileSync(join(OUTSIDE, "victim"), "keep me");
    const { r, dest } = await extractInJail(write("base-force.erofs", base), ["--force"], (d) => {
      symlinkSync(join(OUTSIDE, "victim"), join(d, "zz"));
      symlinkSync(OUTSIDE, join(d, "abt"));
    });
    expect(readFileSync(join(OUTSIDE, "victim"), "utf8")).toBe("keep me");
    expect(readdirSync(OUTSIDE)).toEqual(["victim"]);
    expect(lstatSync(join(dest, "zz")).isFile()).toBe(true);
    // A planted symlink where the image has a directory is an error, never followed.
    expect(r.status).toBe(1);
  });

  it("without --force an existing file is not overwritten", async () => {
    const { r, dest } = await extractInJail(write("base-noforce.erofs", base), [], (d) => writeFileSync(join(d, "e"), "mine"));
    expect(r.status).toBe(1);
    expect(readFileSync(join(dest, "e"), "utf8")).toBe("mine");
    // Named by its path in the image, with the reason and the way past it, not Node's text.
    expect(r.stderr.toString()).toMatch(/^erofs-cli: e: cannot write it in DEST: file already exists \(EEXIST\); --force replaces it$/m);
    expect(r.stderr.toString()).not.toContain(dest);
  });
});
