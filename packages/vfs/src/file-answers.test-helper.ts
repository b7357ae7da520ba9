import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { headerOffset, loadZInfo, mapCompressed, parseSuperblock } from "@erofs-ts/format";
import { KernelMount, resealSuperblock, sha256Hex } from "@erofs-ts/testkit";
import { ErofsError, mount, type ErofsFs, type Inode } from "./index.js";

/*
 * Each file of a damaged image read alone, by the vfs and by the kernel, as one line per
 * file: its path and the sha256 of its content, or the error (EUCLEAN for the kernel's
 * errno 117, the vfs's EFSCORRUPTED).
 */

/** Byte offset of an inode's on-disk header (its i_format). */
export function inodeAt(inode: Inode): number {
  return inode.payloadOffset - inode.xattrSize - inode.inodeSize;
}

/**
 * A compressed file of an image held in memory, set up for format's mapCompressed: the
 * superblock, its inode, its map header and a reader of the image's bytes; `map(ofs)` is
 * the extent holding `ofs`, as a read of it maps it.
 */
export async function compressedFile(image: Uint8Array, path: string) {
  const fs = await mount(image);
  let file: Inode;
  try {
    file = await fs.lookup(path);
  } finally {
    await fs.unmount();
  }
  const sb = parseSuperblock(image);
  const read = async (o: number, l: number) => image.subarray(o, o + l);
  const z = await loadZInfo(file, sb, read);
  return { sb, file, z, read, map: (ofs: number) => mapCompressed(file, sb, z, ofs, read) };
}

/**
 * A copy of `image` with word `word` of a compressed file's compact index (after its
 * 8-byte map header) changed from `from` to `to`, as a fuzz mutant changed it. Throws
 * when the word is not `from`: the image is not the one the mutant was made from.
 */
export async function withCompactIndexWord(image: Uint8Array, path: string, word: number, from: number, to: number): Promise<Buffer> {
  const fs = await mount(image);
  let at: number;
  try {
    at = headerOffset(await fs.lookup(path)) + 8 + word * 4;
  } finally {
    await fs.unmount();
  }
  const b = Buffer.from(image);
  const was = b.readUInt32LE(at);
  if (was !== from) throw new Error(`word ${word} of ${path}'s compact index is 0x${was.toString(16)}, not 0x${from.toString(16)}`);
  b.writeUInt32LE(to, at);
  return b;
}

/**
 * An image's bytes as a loop device of it holds them, for mapping its indexes as the
 * kernel does: its whole 512-byte sectors, and zeros past them.
 */
export function loopDeviceView(bytes: Uint8Array): Buffer {
  const view = Buffer.alloc(bytes.length + 65536);
  view.set(bytes.subarray(0, bytes.length - (bytes.length % 512)));
  return view;
}

/** A copy of `image` with the inode's i_size patched (32 or 64 bits, by inode form), resealed. */
export function withSize(image: Uint8Array, inode: Inode, size: number | bigint): Buffer {
  const b = Buffer.from(image);
  if (inode.extended) b.writeBigUInt64LE(BigInt(size), inodeAt(inode) + 8);
  else b.writeUInt32LE(Number(size), inodeAt(inode) + 8);
  return resealSuperblock(b);
}

/**
 * An image made by mkfs.erofs (Debian's, with `args`) from a tree holding one file,
 * big.txt: 20,000 numbered lines (~650 KiB that compress well). Returns the image's path
 * and the file's bytes.
 */
export function linesImage(work: string, name: string, args: readonly string[]): { image: string; text: Buffer } {
  const tree = join(work, `${name}-tree`);
  mkdirSync(tree);
  const text = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} of a compressible file\n`).join(""));
  writeFileSync(join(tree, "big.txt"), text);
  const image = join(work, `${name}.erofs`);
  const r = spawnSync("mkfs.erofs", [...args, image, tree]);
  if (r.status !== 0) throw new Error(`mkfs.erofs ${args.join(" ")} failed: ${r.stderr}`);
  return { image, text };
}

/**
 * pread on a kernel mount: the sha256 of the bytes, or the error's name as ErofsError
 * names it (EUCLEAN as EFSCORRUPTED; errno 95, which Node calls ENOTSUP, as EOPNOTSUPP).
 */
export function kernelRead(path: string, at: number, length: number): string {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    return sha256Hex([buf.subarray(0, readSync(fd, buf, 0, length, at))]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.errno === -117 ? "EFSCORRUPTED" : err.errno === -95 ? "EOPNOTSUPP" : String(err.code);
  } finally {
    closeSync(fd);
  }
}

/** kernelRead's answer from the vfs: the sha256 of bytes [at, at + length) of `inode`, or the error's code. */
export async function ourRead(fs: ErofsFs, inode: Inode, at: number, length: number): Promise<string> {
  try {
    return sha256Hex([await fs.read(inode, at, length)]);
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return e.code;
  }
}

const KERNEL_NAMES = new Map([
  [-117, "EUCLEAN"],
  [-95, "EOPNOTSUPP"],
]);

/** The paths of every regular file under `dir`, as bytes (names need not be UTF-8), sorted. */
export async function filePaths(fs: ErofsFs, dir: Inode, prefix = Buffer.alloc(0)): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const e of fs.entries(dir)) {
    const inode = await fs.iget(e.nid);
    const path = Buffer.concat([prefix, e.name]);
    if (inode.kind === "dir") out.push(...(await filePaths(fs, inode, Buffer.concat([path, Buffer.from("/")]))));
    else if (inode.kind === "file") out.push(path);
  }
  return out.sort(Buffer.compare);
}

/**
 * The vfs's answer for each file, read alone on a fresh mount: sha256 of its content, or
 * the error (EFSCORRUPTED is the kernel's EUCLEAN).
 */
export async function ourAnswers(image: string, paths: readonly Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) out.push(...(await ourAnswersInOrder(image, [path])));
  return out;
}

/** ourAnswers, the files read one after another on one mount. */
export async function ourAnswersInOrder(image: string, paths: readonly Buffer[]): Promise<string[]> {
  const fs = await mount(image);
  try {
    const out: string[] = [];
    for (const path of paths) out.push(await ourAnswer(fs, path));
    return out;
  } finally {
    await fs.unmount();
  }
}

async function ourAnswer(fs: ErofsFs, path: Buffer): Promise<string> {
  try {
    const inode = await fs.lookup(path);
    return `${path.toString("latin1")} ${createHash("sha256").update(await fs.read(inode, 0, inode.size)).digest("hex")}`;
  } catch (e) {
    if (!ErofsError.isInstance(e)) throw e;
    return `${path.toString("latin1")} ${e.code === "EFSCORRUPTED" ? "EUCLEAN" : e.code}`;
  }
}

/**
 * The kernel's answer for each file, read alone on a fresh mount: after a failed decode
 * the kernel may keep pages of the damaged pcluster, so what a later read answers depends
 * on the reads before it.
 */
export function kernelAnswers(image: string, paths: readonly Buffer[]): string[] {
  return paths.flatMap((path) => kernelAnswersInOrder(image, [path]));
}

/** kernelAnswers, the files read one after another on one mount. */
export function kernelAnswersInOrder(image: string, paths: readonly Buffer[]): string[] {
  const k = KernelMount.tryMount(image)!;
  try {
    return paths.map((path) => kernelAnswer(k.dir, path));
  } finally {
    k.unmount();
  }
}

function kernelAnswer(dir: string, path: Buffer): string {
  const shown = path.toString("latin1");
  try {
    return `${shown} ${createHash("sha256").update(readFileSync(Buffer.concat([Buffer.from(`${dir}/`), path]))).digest("hex")}`;
  } catch (e) {
    // Node has no name for errno 117, and names 95 ENOTSUP.
    const err = e as NodeJS.ErrnoException;
    return `${shown} ${KERNEL_NAMES.get(err.errno!) ?? err.code}`;
  }
}

/** listxattr on a kernel mount, as "names" (sorted) or "errno N". */
export function kernelList(path: string): string {
  const script = "import os, sys\ntry: print(','.join(sorted(os.listxattr(sys.argv[1], follow_symlinks=False))))\nexcept OSError as e: print('errno', e.errno)";
  return spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" }).stdout.trim();
}

/** listxattr through the vfs, as kernelList answers it. */
export async function ourList(image: string, path: string): Promise<string> {
  const fs = await mount(image);
  try {
    const names = await fs.listxattr(await fs.lookup(path));
    return names.map((n) => Buffer.from(n).toString("latin1")).sort().join(",");
  } catch (e) {
    return ErofsError.isInstance(e) ? `errno ${e.errno}` : String(e);
  } finally {
    await fs.unmount();
  }
}
