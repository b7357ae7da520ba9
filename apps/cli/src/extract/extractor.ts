// Extract makes its host calls (open, write, chmod, link, ...) synchronously, not through
// fs/promises. One command runs at a time, so libuv's thread pool overlaps nothing here,
// and each of its round trips costs tens of µs, six or more per file. And on glibc before
// 2.41 (Debian 12's 2.36), pthread_cond_signal can lose a wakeup (sourceware BZ 25847): a
// request then waits in the pool's queue with every worker asleep, and a command issuing
// one request at a time waits for ever. An extract in this project's test suite hung so
// (seen with gdb: an fs work item queued, four idle workers).
import { chmodSync, closeSync, constants, ftruncateSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, rmdirSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { XATTR_INDEX, onePassReads, xattrNamespaceOf, type DirectoryEntry, type ErofsFs, type Inode } from "@erofs-ts/vfs";
import { displayName } from "../format/names.js";
import { TimeSetter, XattrSetter, mknod } from "./host-meta.js";
import { isSafeComponent } from "./safe-name.js";

export interface ExtractOptions {
  /** Replace existing non-directories (never through a symlink). */
  readonly force: boolean;
  /** Restore owners (needs root). */
  readonly owners: boolean;
  /** Create device nodes (needs root); fifos are always made. */
  readonly devices: boolean;
  /**
   * Set trusted.* and security.* attributes, which needs CAP_SYS_ADMIN. Without it they
   * are left out, counted in stats.xattrsSkipped and named in one warning, instead of a
   * failure per file.
   */
  readonly privilegedXattrs: boolean;
  readonly onProgress?: (done: number) => void;
  /** Reports a problem with one entry; extraction goes on, unless DEST itself failed (see DestinationFailed). */
  readonly onError: (where: string, error: unknown) => void;
  readonly onWarning: (where: string, message: string) => void;
}

export interface ExtractStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  specials: number;
  bytes: number;
  skipped: number;
  /** trusted.* and security.* attributes not set (see ExtractOptions.privilegedXattrs). */
  xattrsSkipped: number;
}

/**
 * Host errors no later entry can escape: DEST's filesystem is full, over its quota or
 * read-only. Going on would only report the same failure for every entry left (2,500
 * lines for app-a extracted into a 2 MiB tmpfs); fsck.erofs --extract stops there too.
 */
const DEST_WIDE_ERRORS = new Set(["ENOSPC", "EDQUOT", "EROFS"]);

/** Extraction stopped at an entry's host failure that every later one would meet (DEST_WIDE_ERRORS). */
export class DestinationFailed extends Error {
  constructor(readonly failure: NodeJS.ErrnoException) {
    super(failure.message);
    this.name = "DestinationFailed";
  }
}

/** Whether `e` is a failure of DEST itself (DEST_WIDE_ERRORS). */
function isDestinationWide(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" && DEST_WIDE_ERRORS.has(code);
}

/** Reports an entry's failure; throws DestinationFailed when DEST itself failed, to end the walk. */
function reportEntry(opts: ExtractOptions, where: string, e: unknown): void {
  if (e instanceof DestinationFailed) throw e;
  opts.onError(where, e);
  if (isDestinationWide(e)) throw new DestinationFailed(e);
}

/** Removes a file if it can: where it cannot (DEST gone read-only), the error that led here is the one to report. */
function unlinkQuietly(path: Buffer): void {
  try {
    unlinkSync(path);
  } catch {
    // left as it is
  }
}

function lstatOrNull(path: Buffer): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function isAllZero(b: Uint8Array): boolean {
  // Word-wise when aligned: this runs over every byte extracted.
  if (b.byteOffset % 4 === 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    for (let i = words.length * 4; i < b.length; i++) if (b[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Whether setting the attribute takes CAP_SYS_ADMIN (trusted.*, and security.* without an LSM that owns it). */
function needsSysAdmin(name: Uint8Array): boolean {
  const ns = xattrNamespaceOf(name);
  return ns === XATTR_INDEX.TRUSTED || ns === XATTR_INDEX.SECURITY;
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes an image's tree below `dest`, which must already exist. Safety: every host path
 * is `dest` plus dirent names checked by isSafeComponent, each directory on it was created
 * here (mkdir fails on anything existing, symlinks included), files are created with
 * O_EXCL|O_NOFOLLOW, and hard links point only at files extracted earlier in this run: so
 * nothing outside `dest` is created, followed or overwritten whatever the image holds.
 */
export class Extractor {
  readonly stats: ExtractStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, specials: 0, bytes: 0, skipped: 0, xattrsSkipped: 0 };
  readonly #fs: ErofsFs;
  readonly #dest: Buffer;
  readonly #opts: ExtractOptions;
  readonly #times: TimeSetter;
  /** Where argv-unsafe names are aliased; removed before the root's own time is set. */
  readonly #scratch: string;
  readonly #xattrs = new XattrSetter();
  /** First host path of each extracted non-directory nid, for hard links. */
  readonly #linked = new Map<bigint, Buffer>();
  /** Directories in creation order; their metadata is applied last, deepest first. */
  readonly #dirs: Array<{ path: Buffer; inode: Inode }> = [];
  /** How files are read: once, in order, each chunk written before the next is read. */
  readonly #stream = onePassReads();
  #done = 0;

  constructor(fs: ErofsFs, dest: string, opts: ExtractOptions) {
    this.#fs = fs;
    this.#dest = Buffer.from(dest);
    this.#opts = opts;
    this.#scratch = `${dest}/.erofs-scratch-${process.pid}`;
    this.#times = new TimeSetter(this.#scratch);
  }

  /**
   * Extracts `root`: a directory's contents go into dest itself, anything else into
   * dest/name. Throws DestinationFailed, after reporting the entry, when DEST itself
   * failed: what was extracted stays, without its directories' modes and times.
   */
  async run(root: Inode, rootName: Uint8Array): Promise<void> {
    if (root.kind === "dir") {
      this.#dirs.push({ path: this.#dest, inode: root });
      await this.#extractChildren(root, this.#dest);
    } else {
      await this.#extractOne(root, Buffer.concat([this.#dest, Buffer.from("/"), Buffer.from(rootName)]), rootName);
    }
    await this.#finish();
  }

  async #extractChildren(dir: Inode, hostDir: Buffer): Promise<void> {
    // Iterative depth-first walk; a directory nid is entered once, so cyclic dirents end.
    const entered = new Set<bigint>([dir.nid]);
    const stack: Array<{ dir: Inode; host: Buffer }> = [{ dir, host: hostDir }];
    while (stack.length) {
      const { dir: d, host } = stack.pop()!;
      try {
        // Streamed: a directory's entries are extracted as they are read, whatever its size.
        for await (const e of this.#fs.entries(d)) await this.#extractEntry(e, host, entered, stack);
      } catch (e) {
        // The listing failed part-way (a corrupt block): what came before it is extracted.
        reportEntry(this.#opts, this.#imagePath(host), e);
      }
    }
  }

  async #extractEntry(e: DirectoryEntry, host: Buffer, entered: Set<bigint>, stack: Array<{ dir: Inode; host: Buffer }>): Promise<void> {
    const where = `${displayName(host.subarray(this.#dest.length + 1))}/${displayName(e.name)}`.replace(/^\//, "");
    if (!isSafeComponent(e.name)) {
      this.#opts.onError(where, new Error("unsafe name in the image; not extracted"));
      this.stats.skipped++;
      return;
    }
    const path = Buffer.concat([host, Buffer.from("/"), e.name]);
    let inode: Inode;
    try {
      inode = await this.#fs.iget(e.nid);
    } catch (err) {
      this.#opts.onError(where, err);
      return;
    }
    if (inode.kind === "dir") {
      if (entered.has(inode.nid)) {
        this.#opts.onError(where, new Error("directory loop in the image; not entered again"));
        return;
      }
      entered.add(inode.nid);
      if (this.#makeDir(path, inode, where)) stack.push({ dir: inode, host: path });
    } else {
      await this.#extractOne(inode, path, Buffer.from(where));
    }
  }

  #makeDir(path: Buffer, inode: Inode, where: string): boolean {
    try {
      mkdirSync(path, 0o700);
    } catch (e) {
      const st = lstatOrNull(path);
      // An existing real directory is reused with --force; a symlink never is.
      if (!(this.#opts.force && st?.isDirectory())) {
        reportEntry(this.#opts, where, e);
        return false;
      }
    }
    this.#dirs.push({ path, inode });
    this.stats.dirs++;
    this.#tick();
    return true;
  }

  async #extractOne(inode: Inode, path: Buffer, where: Uint8Array): Promise<void> {
    const label = displayName(where);
    try {
      const first = this.#linked.get(inode.nid);
      if (first) {
        this.#clear(path);
        linkSync(first, path);
        this.stats.hardlinks++;
        this.#tick();
        return;
      }
      const s = this.#fs.stat(inode);
      switch (s.type) {
        case "file":
          this.#clear(path);
          await this.#writeFile(inode, path);
          this.stats.files++;
          break;
        case "symlink":
          this.#clear(path);
          symlinkSync(Buffer.from(await this.#fs.readlink(inode)), path);
          this.stats.symlinks++;
          break;
        case "chardev":
        case "blockdev":
          if (!this.#opts.devices) {
            this.#opts.onWarning(label, "device node skipped (needs root)");
            this.stats.skipped++;
            return;
          }
          this.#clear(path);
          await mknod(path, this.#dest.toString(), s.type === "chardev" ? "c" : "b", s.rdevMajor, s.rdevMinor);
          this.stats.specials++;
          break;
        case "fifo":
          this.#clear(path);
          await mknod(path, this.#dest.toString(), "p");
          this.stats.specials++;
          break;
        default:
          this.#opts.onWarning(label, "socket skipped");
          this.stats.skipped++;
          return;
      }
      this.#linked.set(inode.nid, path);
      await this.#applyMeta(path, inode, false);
      this.#tick();
    } catch (e) {
      reportEntry(this.#opts, label, e);
    }
  }

  /** With --force, removes an existing non-directory at `path` (unlink never follows links). */
  #clear(path: Buffer): void {
    if (!this.#opts.force) return;
    const st = lstatOrNull(path);
    if (st && !st.isDirectory()) unlinkSync(path);
  }

  /**
   * Streams a file out; all-zero chunks become holes, so sparse files stay sparse. A file
   * DEST has no room for is removed: cut short, it would look extracted (a file the image
   * fails to give whole stays as far as it was read, as `cp` from a kernel mount leaves it).
   */
  async #writeFile(inode: Inode, path: Buffer): Promise<void> {
    const fd = openSync(path, CREATE_FLAGS, 0o600);
    try {
      let pos = 0;
      for await (const chunk of this.#fs.readChunks(inode, this.#stream)) {
        if (!isAllZero(chunk)) {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, pos + off);
        }
        pos += chunk.length;
        this.stats.bytes += chunk.length;
      }
      ftruncateSync(fd, pos);
    } catch (e) {
      // This run made the file (O_EXCL), so it is this run's to remove.
      if (isDestinationWide(e)) unlinkQuietly(path);
      throw e;
    } finally {
      closeSync(fd);
    }
  }

  async #applyMeta(path: Buffer, inode: Inode, isDir: boolean): Promise<void> {
    const s = this.#fs.stat(inode);
    // chown first: it clears setuid/setgid bits that chmod then sets.
    if (this.#opts.owners) lchownSync(path, s.uid, s.gid);
    if (s.type !== "symlink") chmodSync(path, s.perm);
    this.#times.add(path, s.mtimeNs, isDir);
    for (const name of await this.#fs.listxattr(inode)) {
      // A listed name without a value (user.* of a symlink: the kernel refuses to read it,
      // and a host would refuse to set it) is not copied.
      const value = await this.#fs.findxattr(inode, name);
      if (!value) continue;
      if (!this.#opts.privilegedXattrs && needsSysAdmin(name)) this.stats.xattrsSkipped++;
      else this.#xattrs.add(path, name, value);
    }
  }

  /** A directory under DEST named by its path in the image, as entries are reported (and as fsck names them). */
  #imagePath(host: Buffer): string {
    return displayName(host.subarray(this.#dest.length + 1)) || "/";
  }

  async #finish(): Promise<void> {
    if (this.#xattrs.pending) {
      try {
        await this.#xattrs.apply();
      } catch (e) {
        this.#opts.onWarning("xattrs", (e as Error).message);
      }
    }
    // Directory times last, deepest first: creating entries changes a directory's mtime.
    for (let i = this.#dirs.length - 1; i >= 0; i--) {
      const { path, inode } = this.#dirs[i]!;
      try {
        await this.#applyMeta(path, inode, true);
      } catch (e) {
        this.#opts.onError(this.#imagePath(path), e);
      }
    }
    await this.#xattrs.apply().catch((e: Error) => this.#opts.onWarning("xattrs", e.message));
    mkdirSync(this.#scratch, 0o700);
    try {
      await this.#times.applyAliased();
    } finally {
      rmdirSync(this.#scratch);
    }
    await this.#times.applyBatch();
    if (this.stats.xattrsSkipped) {
      this.#opts.onWarning("xattrs", `${this.stats.xattrsSkipped} trusted.* and security.* attributes not restored: setting them needs CAP_SYS_ADMIN`);
    }
  }

  #tick(): void {
    this.#done++;
    if (this.#opts.onProgress && this.#done % 64 === 0) this.#opts.onProgress(this.#done);
  }
}
