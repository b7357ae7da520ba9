import { BufferPool } from "@erofs-ts/blockdev";
import { ErofsError, XATTR_INDEX, hasCapSysAdmin, xattrNamespaceOf, type ErofsFs, type Inode, type Stat } from "@erofs-ts/vfs";
import { NodeTable } from "./nodes.js";
import { ListingOrder, type ListedEntry } from "./listing-order.js";
import { READ_AHEAD_MAX_BYTES, ReadAhead } from "./read-ahead.js";
import { ERRNO, FOPEN, INIT, O_FLAGS, OLDEST_MINOR, OP, PROTOCOL_MAJOR, PROTOCOL_MINOR, ROOT_NODEID, SEEK_DATA, SEEK_HOLE, WRITE_OPS } from "./protocol/opcodes.js";
import type { Outcome } from "./protocol/session.js";
import {
  args,
  direntSize,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeStatfsOut,
  encodeU32Pair,
  encodeU64,
  nameAt,
  need,
  parseInitIn,
  writeDirent,
  ProtocolError,
  type Attr,
  type Dirent,
  type DirentEntry,
  type Request,
  type Validity,
} from "./protocol/structs.js";

/** Names, attributes and negative lookups stay valid for a day: the image never changes. */
const VALID: Validity = { seconds: 86_400 };
/** Largest READ the kernel may send (max_pages × 4 KiB) and the readahead window asked for. */
const MAX_PAGES = 256;
const MAX_READAHEAD = 1 << 20;
/** The server accepts no writes; the kernel still wants a max_write of at least a page. */
const MAX_WRITE = 4096;

export interface ServerOptions {
  /** Called for each failure answered EIO (corrupt image, unexpected error). */
  readonly onError?: (message: string) => void;
}

interface FileHandle {
  readonly kind: "file";
  readonly inode: Inode;
  /** Read through the shared page cache (ishare) rather than the kernel's. */
  readonly shared: boolean;
}

interface DirHandle {
  readonly kind: "dir";
  readonly inode: Inode;
}

/** Counters kept as requests are served. */
interface Counters {
  requests: number;
  errors: number;
  bytesRead: number;
  sharedBytesRead: number;
  /** Small files read ahead of their READ (see ReadAhead), and how many a READ then took. */
  readsAhead: number;
  readsAheadTaken: number;
}

/** What the daemon reports (`--stats`, SIGUSR1): the counters and the current state. */
export interface ServerStats extends Readonly<Counters> {
  /** Free READ reply buffers kept for the next replies. */
  readonly replyBufferBytes: number;
  readonly openFiles: number;
  readonly liveNodes: number;
  readonly lookupReferences: bigint;
}

/**
 * Serves one mounted image over FUSE: maps each request to the vfs. nodeids are nids
 * (see NodeTable); attribute `ino` is the kernel's inode number for the nid.
 *
 * Where file pages are cached is chosen per file at OPEN: a file shared through
 * inode_share is opened FOPEN_DIRECT_IO and read through the daemon's shared cache, so
 * its pages exist once however many mounts read it; any other file lets the kernel's
 * page cache hold it (FOPEN_KEEP_CACHE) and the daemon keeps no copy of its pages.
 *
 * Opens are round trips, and each is followed by a RELEASE, so where no choice is to be
 * made they are skipped: a mount without inode_share answers OPEN with ENOSYS, and every
 * mount answers OPENDIR so, when the kernel supports it. The kernel then opens every file
 * and directory itself with FOPEN_KEEP_CACHE (and FOPEN_CACHE_DIR), sends READ and
 * READDIR with file handle 0, and sends no RELEASE. That halves the requests of reading
 * a small file (LOOKUP, READ instead of LOOKUP, OPEN, READ, RELEASE).
 */
export class ErofsFuseServer {
  readonly #fs: ErofsFs;
  readonly #nodes: NodeTable;
  readonly #handles = new Map<bigint, FileHandle | DirHandle>();
  readonly #replyBuffers = new BufferPool();
  readonly #options: ServerOptions;
  /** Set at INIT: the kernel opens files (and directories) without asking. */
  #noOpen = false;
  #noOpendir = false;
  #nextFh = 1n;
  #initialized = false;
  #resolveReady!: () => void;
  /** Settles when INIT has been answered: the mount is live. */
  readonly ready: Promise<void>;
  readonly #counters: Counters = { requests: 0, errors: 0, bytesRead: 0, sharedBytesRead: 0, readsAhead: 0, readsAheadTaken: 0 };
  /** Small files read in the gaps between requests, ahead of their READs. */
  readonly #readAhead: ReadAhead;
  /** Listings as the kernel was given them, for ReadAhead's file after the one read. */
  readonly #listingOrder = new ListingOrder();

  constructor(fs: ErofsFs, rootNid: bigint, options: ServerOptions = {}) {
    this.#fs = fs;
    this.#nodes = new NodeTable(rootNid);
    this.#options = options;
    this.#readAhead = new ReadAhead(
      (nid) => this.#readFileAhead(nid),
      (data) => this.#replyBuffers.release([data]),
      (nid) => this.#listingOrder.nextAfter(nid),
    );
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /** Requests answered so far (the daemon's idle detection reads it). */
  get requests(): number {
    return this.#counters.requests;
  }

  stats(): ServerStats {
    return {
      ...this.#counters,
      replyBufferBytes: this.#replyBuffers.retainedBytes,
      openFiles: this.#handles.size,
      liveNodes: this.#nodes.live,
      lookupReferences: this.#nodes.references,
    };
  }

  /** Lets the free READ reply buffers go, and a file read ahead that no READ took (the daemon is idle). */
  releaseBuffers(): void {
    this.#readAhead.forget();
    this.#replyBuffers.clear();
  }

  /** The session's onReplied: READ reply buffers go back to their pool. */
  readonly replied = (parts: readonly Uint8Array[]): void => {
    this.#replyBuffers.release(parts);
    this.#readAhead.replied();
  };

  /** The session's handler: answers one request. */
  readonly handle = async (req: Request): Promise<Outcome> => {
    this.#counters.requests++;
    const op = req.header.opcode;
    try {
      if (op === OP.INIT) return this.#init(req);
      if (!this.#initialized) return ERRNO.EIO;
      if (WRITE_OPS.has(op)) return ERRNO.EROFS;
      return await this.#serve(req);
    } catch (e) {
      return this.#failure(e, req);
    }
  };

  async #serve(req: Request): Promise<Outcome> {
    switch (req.header.opcode) {
      case OP.LOOKUP:
        return this.#lookup(req);
      case OP.FORGET:
        this.#nodes.forget(req.header.nodeid, args.u64(need(req, 8), 0));
        return null;
      case OP.BATCH_FORGET:
        return this.#batchForget(req);
      case OP.GETATTR:
        return [encodeAttrOut(this.#attr(await this.#inode(req)), VALID)];
      case OP.READLINK:
        return [await this.#fs.readlink(await this.#inode(req))];
      case OP.OPEN:
        return this.#open(req);
      case OP.READ:
        return this.#read(req);
      case OP.RELEASE:
      case OP.RELEASEDIR:
        this.#handles.delete(args.u64(need(req, 8), 0));
        return [];
      case OP.FLUSH:
        // Nothing is ever dirty. Files opened without OPEN lack FOPEN_NOFLUSH, so the
        // kernel would ask at every close(2); ENOSYS tells it never to ask again.
        return ERRNO.ENOSYS;
      case OP.FSYNC:
      case OP.FSYNCDIR:
        return [];
      case OP.OPENDIR:
        return this.#opendir(req);
      case OP.READDIR:
        return this.#readdir(req, false);
      case OP.READDIRPLUS:
        return this.#readdir(req, true);
      case OP.STATFS:
        return this.#statfs();
      case OP.GETXATTR:
        return this.#getxattr(req);
      case OP.LISTXATTR:
        return this.#listxattr(req);
      case OP.ACCESS:
        return this.#access(req);
      case OP.LSEEK:
        return this.#lseek(req);
      case OP.DESTROY:
        return [];
      default:
        return ERRNO.ENOSYS;
    }
  }

  #statfs(): Outcome {
    const st = this.#fs.statfs();
    return [encodeStatfsOut({ ...st, namelen: st.namemax })];
  }

  /** INIT: agree on the protocol minor and the capabilities both sides have. */
  #init(req: Request): Outcome {
    const kernel = parseInitIn(req);
    if (kernel.major !== PROTOCOL_MAJOR || kernel.minor < OLDEST_MINOR) {
      this.#options.onError?.(`unsupported FUSE protocol ${kernel.major}.${kernel.minor}`);
      return ERRNO.EPROTO;
    }
    const minor = Math.min(kernel.minor, PROTOCOL_MINOR);
    // READDIRPLUS_AUTO: the kernel asks for attributes with a listing's first page, and
    // with later pages only once entries it linked are being looked at. Attributes with
    // every page (DO_READDIRPLUS alone) read every listed inode. Measured cold on this
    // project's corpus: a walk of app-a that lists each directory whole before stat'ing
    // (as Node's readdir does) saved its 777 LOOKUPs, 5-10% of the walk, but `ls` of
    // wide-plain's 6,000-entry directory took 280 ms instead of 96, and `find` 1.5x longer.
    // A directory of up to about a thousand entries is listed whole in its first page
    // anyway, sized by its st_blksize (listingBlksize), so those LOOKUPs are gone too.
    const wanted =
      INIT.ASYNC_READ |
      INIT.DO_READDIRPLUS |
      INIT.READDIRPLUS_AUTO |
      INIT.ASYNC_DIO |
      INIT.PARALLEL_DIROPS |
      INIT.MAX_PAGES |
      INIT.CACHE_SYMLINKS |
      INIT.INIT_EXT;
    // Without POSIX_ACL every getxattr of system.posix_acl_* (ls -l asks for each file) is
    // a round trip; with it the kernel asks once per inode and caches the answer, absent
    // ones too, and applies the ACLs in its permission checks as the kernel's erofs does.
    // A noacl mount goes without: the kernel then checks modes alone, as erofs does there.
    const acl = this.#fs.xattrNamespaces.acl ? INIT.POSIX_ACL : 0;
    const flags = (kernel.flags & (wanted | acl)) >>> 0;
    // flags2 is only read when both sides have INIT_EXT.
    const flags2 = flags & INIT.INIT_EXT ? kernel.flags2 & INIT.FLAGS2_DIRECT_IO_ALLOW_MMAP : 0;
    // Every file's placement is the same without inode_share, so there is nothing to choose.
    this.#noOpen = (kernel.flags & INIT.NO_OPEN_SUPPORT) !== 0 && !this.#fs.sharingEnabled;
    this.#noOpendir = (kernel.flags & INIT.NO_OPENDIR_SUPPORT) !== 0;
    this.#initialized = true;
    queueMicrotask(() => this.#resolveReady());
    return [
      encodeInitOut({
        major: PROTOCOL_MAJOR,
        minor,
        maxReadahead: Math.min(kernel.maxReadahead, MAX_READAHEAD),
        flags,
        maxBackground: 64,
        congestionThreshold: 48,
        maxWrite: MAX_WRITE,
        timeGran: 1,
        maxPages: MAX_PAGES,
        flags2,
      }),
    ];
  }

  async #lookup(req: Request): Promise<Outcome> {
    const dir = await this.#inode(req);
    const name = nameAt(req, 0);
    let child: Inode;
    try {
      child = await this.#fs.lookupChild(dir, name);
    } catch (e) {
      // A negative entry the kernel may cache as long as a positive one.
      if (ErofsError.isInstance(e) && e.code === "ENOENT") return [encodeEntryOut(0n, null, VALID)];
      throw e;
    }
    const nodeid = this.#nodes.nodeidOf(child.nid);
    // A corrupt image may name the root again. A directory has one name, and the root is
    // the ancestor of every path: a kernel mount refuses it (ELOOP), where FUSE would
    // take the root nodeid for EIO.
    if (nodeid === ROOT_NODEID) return ERRNO.ELOOP;
    this.#nodes.remember(nodeid);
    // Shared files are read through the shared cache, on their own path.
    if (child.kind === "file" && !this.#fs.isShared(child)) this.#readAhead.lookedUp(child.nid, child.size);
    return [encodeEntryOut(nodeid, this.#attr(child), VALID)];
  }

  #batchForget(req: Request): Outcome {
    const v = need(req, 8);
    const count = args.u32(v, 0);
    // Each entry is 16 bytes; the count is the kernel's, the body length is what arrived.
    const fits = Math.min(count, Math.floor((v.byteLength - 8) / 16));
    for (let i = 0; i < fits; i++) this.#nodes.forget(args.u64(v, 8 + i * 16), args.u64(v, 16 + i * 16));
    return null;
  }

  async #open(req: Request): Promise<Outcome> {
    if (this.#noOpen) return ERRNO.ENOSYS;
    const flags = args.u32(need(req, 4), 0);
    const inode = await this.#inode(req);
    if ((flags & O_FLAGS.ACCMODE) !== O_FLAGS.RDONLY || flags & O_FLAGS.TRUNC) return ERRNO.EROFS;
    if (inode.kind === "dir") return ERRNO.EISDIR;
    const shared = this.#fs.isShared(inode);
    // As the seed: direct I/O on a shared file is refused.
    if (shared && flags & O_FLAGS.DIRECT) return ERRNO.EINVAL;
    const fh = this.#nextFh++;
    this.#handles.set(fh, { kind: "file", inode, shared });
    return [encodeOpenOut(fh, (shared ? FOPEN.DIRECT_IO : FOPEN.KEEP_CACHE) | FOPEN.NOFLUSH)];
  }

  async #read(req: Request): Promise<Outcome> {
    const v = need(req, 24);
    const handle = await this.#fileHandle(req, args.u64(v, 0));
    if (!handle) return ERRNO.EBADF;
    const offset = args.u64(v, 8);
    const size = args.u32(v, 16);
    if (offset >= handle.inode.sizeBig) return [new Uint8Array(0)];
    // Offsets past 2^53 are not exact numbers: bytes there are not read (fs.read refuses
    // them as well), rather than read from the wrong place.
    if (offset > MAX_SAFE_OFFSET) return ERRNO.EOPNOTSUPP;
    const ahead = offset === 0n ? this.#readAhead.take(handle.inode.nid) : null;
    const early = ahead ? await ahead : null;
    let data: Uint8Array;
    if (early) {
      data = early.length > size ? early.subarray(0, size) : early;
      this.#counters.readsAheadTaken++;
    } else {
      // Shared files keep their pages in the shared cache; others in the kernel's only.
      data = await this.#readIntoReplyBuffer(handle.inode, Number(offset), size, handle.shared);
    }
    this.#counters.bytesRead += data.length;
    if (handle.shared) this.#counters.sharedBytesRead += data.length;
    return [data];
  }

  /**
   * A small file read whole for ReadAhead, into a reply buffer; null for a file not to read
   * ahead (large, empty, shared, not a regular file) or one that cannot be read.
   */
  async #readFileAhead(nid: bigint): Promise<Uint8Array | null> {
    try {
      const inode = await this.#fs.iget(nid);
      // Shared files keep their pages in the shared cache, read on their own path.
      if (inode.kind !== "file" || inode.size === 0 || inode.size > READ_AHEAD_MAX_BYTES || this.#fs.isShared(inode)) return null;
      this.#counters.readsAhead++;
      return await this.#readIntoReplyBuffer(inode, 0, inode.size, false);
    } catch {
      return null;
    }
  }

  /** A file's bytes read into a reply buffer from the pool (given back if the read fails). */
  async #readIntoReplyBuffer(inode: Inode, offset: number, length: number, cache: boolean): Promise<Uint8Array> {
    const into = this.#replyBuffers.acquire(Math.min(length, inode.size - offset));
    try {
      return await this.#fs.read(inode, offset, length, { cache, ...(into ? { into } : {}) });
    } catch (e) {
      if (into) this.#replyBuffers.release([into]);
      throw e;
    }
  }

  /** The open file a READ names; with no opens, handle 0 and the request's node. */
  async #fileHandle(req: Request, fh: bigint): Promise<FileHandle | null> {
    if (fh === 0n && this.#noOpen) {
      const inode = await this.#inode(req);
      return inode.kind === "file" ? { kind: "file", inode, shared: false } : null;
    }
    const handle = this.#handles.get(fh);
    return handle?.kind === "file" ? handle : null;
  }

  async #opendir(req: Request): Promise<Outcome> {
    if (this.#noOpendir) return ERRNO.ENOSYS;
    const inode = await this.#inode(req);
    if (inode.kind !== "dir") return ERRNO.ENOTDIR;
    const fh = this.#nextFh++;
    this.#handles.set(fh, { kind: "dir", inode });
    // The kernel may keep listings in its page cache across opens: they never change.
    return [encodeOpenOut(fh, FOPEN.CACHE_DIR | FOPEN.KEEP_CACHE)];
  }

  /**
   * READDIR(PLUS): entries from the offset on, as many as fit in `size`. Offsets are the
   * vfs's listing positions (the kernel's erofs readdir positions), so each page reads
   * only the directory blocks it lists: a directory of any size is listed in bounded
   * memory, and pages of one walk agree because the image never changes. PLUS entries
   * carry attributes and count as lookups, except `.` and `..`, which the kernel never
   * links and so never forgets, and entries whose inode cannot be read (nodeid 0: no
   * attributes).
   */
  async #readdir(req: Request, plus: boolean): Promise<Outcome> {
    const v = need(req, 24);
    const fh = args.u64(v, 0);
    const handle = fh === 0n && this.#noOpendir ? { inode: await this.#inode(req) } : this.#handles.get(fh);
    if (handle?.inode.kind !== "dir") return ERRNO.EBADF;
    // An offset past any position (lseek on the directory may ask for one) lists nothing.
    const start = args.u64(v, 8);
    const position = start > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(start);
    const size = args.u32(v, 16);
    // No record is shorter than one with a 1-byte name: no more entries than that can fit.
    const entries = await this.#fs.readdirFrom(handle.inode, position, Math.floor(size / direntSize(1, plus)), { dots: true });
    // The records are gathered first and the reply allocated at their size: `size` is the
    // listing buffer the caller passed to getdents (up to max_pages, 1 MiB), and most
    // pages, the empty one that ends every listing among them, use little of it.
    const records: Array<{ dirent: Dirent; plus: DirentEntry | null }> = [];
    let used = 0;
    // What this page lists, in order, for ReadAhead's file after the one read.
    const listed: ListedEntry[] = [];
    // A sound directory's names are each found by a lookup where they are listed (asked once per directory).
    const lookupsAgree = plus && (await this.#fs.lookupsFindListed(handle.inode));
    for (const e of entries) {
      // A name with '/' (or an empty one): FUSE would reject the whole reply. A kernel mount
      // lists the entries before it, then fails the listing there with EIO (the VFS's
      // check of each name it is given), and so does this reply.
      if (e.name.length === 0 || e.name.includes(0x2f)) {
        if (used === 0) return ERRNO.EIO;
        break;
      }
      const recordSize = direntSize(e.name.length, plus);
      if (used + recordSize > size) break;
      const dirent = { ino: e.ino, offset: e.next, type: DT_OF_FILE_TYPE[e.fileType] ?? 0, name: e.name };
      listed.push(e);
      used += recordSize;
      if (!plus) {
        records.push({ dirent, plus: null });
        continue;
      }
      const child = isDotName(e.name) ? null : await this.#listedInode(handle.inode, e.name, e.nid, lookupsAgree);
      const nodeid = child ? this.#nodes.nodeidOf(child.nid) : 0n;
      // The root listed again under another name: listed, not linked (see #lookup).
      if (!child || nodeid === ROOT_NODEID) {
        records.push({ dirent, plus: { nodeid: 0n, attr: null, valid: VALID } });
        continue;
      }
      records.push({ dirent, plus: { nodeid, attr: this.#attr(child), valid: VALID } });
      this.#nodes.remember(nodeid);
    }
    this.#listingOrder.listed(handle.inode.nid, position, listed);
    const out = new Uint8Array(used);
    let at = 0;
    for (const r of records) at += writeDirent(out, at, r.dirent, r.plus);
    return [out];
  }

  /**
   * A listed entry's inode, or null when the kernel must not be given it: listed without
   * attributes, the name's LOOKUP then answers what a kernel mount answers.
   * - The inode cannot be read: a corrupt inode costs only itself, as on a kernel mount,
   *   whose readdir never reads the inodes it lists.
   * - A lookup of the name finds another dirent, or none (a damaged directory's names out
   *   of order or repeated): the kernel's lookup is a binary search, so what readdir lists
   *   is not always what a path finds, and the attributes would link a name to an inode
   *   that no lookup of it reaches. Not asked when `lookupsAgree` (the vfs found the
   *   directory sound: lookupsFindListed).
   */
  async #listedInode(dir: Inode, name: Uint8Array, nid: bigint, lookupsAgree: boolean): Promise<Inode | null> {
    try {
      if (!lookupsAgree && (await this.#fs.lookupNid(dir, name)) !== nid) return null;
      return await this.#fs.iget(nid);
    } catch (e) {
      if (ErofsError.isInstance(e)) return null;
      throw e;
    }
  }

  async #getxattr(req: Request): Promise<Outcome> {
    const size = args.u32(need(req, 8), 0);
    const name = nameAt(req, 8);
    // Most probes (security.selinux, ACLs on every `ls -l`) ask for what is not there.
    const value = await this.#fs.findxattr(await this.#inode(req), name);
    return value ? sized(value, size) : ERRNO.ENODATA;
  }

  async #listxattr(req: Request): Promise<Outcome> {
    const size = args.u32(need(req, 8), 0);
    let names = await this.#fs.listxattr(await this.#inode(req));
    // The kernel lists trusted.* to CAP_SYS_ADMIN callers only, and FUSE passes the request
    // on unfiltered (a getxattr of one the VFS refuses itself). The caller's /proc entry is
    // read only when there is a name to hide.
    if (names.some(isTrusted) && !hasCapSysAdmin(req.header.pid)) names = names.filter((n) => !isTrusted(n));
    return sized(xattrList(names), size);
  }

  /** ACCESS (only sent without default_permissions): mode bits against the caller. */
  async #access(req: Request): Promise<Outcome> {
    const mask = args.u32(need(req, 4), 0);
    const st = this.#fs.stat(await this.#inode(req));
    if (mask & 2) return ERRNO.EROFS;
    const { uid, gid } = req.header;
    if (uid === 0) return mask & 1 && st.type !== "dir" && (st.perm & 0o111) === 0 ? ERRNO.EACCES : [];
    const shift = uid === st.uid ? 6 : gid === st.gid ? 3 : 0;
    const granted = (st.perm >> shift) & 7;
    return (mask & 7 & ~granted) === 0 ? [] : ERRNO.EACCES;
  }

  async #lseek(req: Request): Promise<Outcome> {
    const v = need(req, 20);
    const handle = this.#handles.get(args.u64(v, 0));
    const inode = handle?.kind === "file" ? handle.inode : await this.#inode(req);
    const offset = args.u64(v, 8);
    const whence = args.u32(v, 16);
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) return ERRNO.EINVAL;
    if (offset >= inode.sizeBig) return ERRNO.ENXIO;
    // Past 2^53 offsets are not exact numbers: not looked at, as reads there are not.
    if (offset > MAX_SAFE_OFFSET) return ERRNO.EOPNOTSUPP;
    const found = await this.#fs.seek(inode, Number(offset), whence === SEEK_HOLE);
    // The end of the file, where every file has a hole, may lie past 2^53.
    return [encodeU64(found === inode.size ? inode.sizeBig : BigInt(found))];
  }

  /** The request's inode. Not an async method: iget's promise as it is, one wrapper fewer per request. */
  #inode(req: Request): Promise<Inode> {
    const nid = this.#nodes.nidOf(req.header.nodeid);
    if (nid === null) return Promise.reject(new ProtocolError(`unknown nodeid ${req.header.nodeid}`));
    return this.#fs.iget(nid);
  }

  #attr(inode: Inode): Attr {
    return attrOf(this.#fs.stat(inode));
  }

  #failure(e: unknown, req: Request): number {
    this.#counters.errors++;
    if (ErofsError.isInstance(e)) {
      // Corruption is EIO to applications (the contract for hostile images); the log says more.
      if (e.code === "EFSCORRUPTED" || e.code === "EIO") {
        this.#options.onError?.(`nid ${this.#nodes.nidOf(req.header.nodeid)}: ${e.message}`);
        return ERRNO.EIO;
      }
      return e.errno;
    }
    if (e instanceof ProtocolError) {
      this.#options.onError?.(e.message);
      return ERRNO.EINVAL;
    }
    this.#options.onError?.(`unexpected: ${(e as Error)?.stack ?? String(e)}`);
    return ERRNO.EIO;
  }
}

function isTrusted(name: Uint8Array): boolean {
  return xattrNamespaceOf(name) === XATTR_INDEX.TRUSTED;
}

/**
 * The names as listxattr(2) answers them: each followed by a NUL. The vfs hands them out
 * as a kernel mount's list splits (a NUL inside a damaged name makes several, empty ones
 * included); the FUSE module refuses (EIO) a whole list in which any name is empty, so
 * those are left out and the rest is the kernel mount's list.
 */
function xattrList(names: readonly Uint8Array[]): Uint8Array {
  // An empty name (a damaged image's) is left out: the kernel's FUSE refuses a whole list
  // holding one (EIO, fuse_verify_xattr_list), where the kernel's erofs lists it.
  const listed = names.filter((n) => n.length > 0);
  let total = 0;
  for (const n of listed) total += n.length + 1;
  const list = new Uint8Array(total);
  let pos = 0;
  for (const n of listed) {
    list.set(n, pos);
    pos += n.length + 1;
  }
  return list;
}

/** A value answered as GETXATTR/LISTXATTR do: its size for a size-0 probe, ERANGE if too big. */
function sized(value: Uint8Array, size: number): Outcome {
  if (size === 0) return [encodeU32Pair(value.length)];
  if (value.length > size) return ERRNO.ERANGE;
  return [value];
}

/** The last file offset a number holds exactly. */
const MAX_SAFE_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * getdents' d_type for each on-disk file type (EROFS_FT_*: unknown, regular, dir, chr,
 * blk, fifo, sock, symlink), as the kernel's fs_ftype_to_dtype maps it; 0 is DT_UNKNOWN.
 */
const DT_OF_FILE_TYPE: readonly number[] = [0, 8, 4, 2, 6, 1, 12, 10];

function isDotName(name: Uint8Array): boolean {
  return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}

const NSEC_PER_SEC = 1_000_000_000;

/** st_rdev as the kernel's new_encode_dev packs it into FUSE's 32-bit rdev. */
function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function attrOf(st: Stat): Attr {
  // The FUSE kernel clamps a nanosecond field of 10^9 or more to 999999999, where a kernel
  // mount keeps it as stored (st_mtime_ns = sec * 10^9 + nsec): carried into the seconds,
  // it keeps that instant. Seconds wrap as the kernel's signed 64-bit ones do.
  const carry = Math.floor(st.mtimeNsec / NSEC_PER_SEC);
  return {
    ino: st.ino,
    size: st.sizeBig,
    blocks: st.blocksBig,
    mtimeSec: BigInt.asUintN(64, st.mtimeSecBig + BigInt(carry)),
    mtimeNsec: st.mtimeNsec % NSEC_PER_SEC,
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    rdev: st.type === "chardev" || st.type === "blockdev" ? encodeDev(st.rdevMajor, st.rdevMinor) : 0,
    blksize: st.type === "dir" ? listingBlksize(st.size, st.blockSize) : st.blockSize,
  };
}

/**
 * Bytes of a listing with attributes (FUSE's direntplus records: 152 bytes and the name)
 * per byte of the directory's EROFS dirent blocks (12 bytes and the name): 6-8 for names
 * of 8-16 bytes. Shorter names make it more; the listing then takes a second page.
 */
const LISTING_PER_DIRECTORY_BYTE = 8;
/**
 * The largest listing asked for in one page through a directory's st_blksize (see
 * listingBlksize): a 128 KiB page for app-a's 640-entry directory, none for wide-plain's
 * 6,000-entry one (1.5 MB), whose `ls` (names only) took ~180 ms instead of ~60 when its
 * whole listing came with attributes in one 1 MiB page.
 */
const LISTING_PAGE_MAX = 256 << 10;

/**
 * A directory's st_blksize: a power of two that holds its listing with attributes, where
 * that is more than a block and at most LISTING_PAGE_MAX. glibc's opendir sizes the
 * buffer it lists into by st_blksize (32 KiB at least), and the kernel asks for pages of
 * that size (up to max_pages). With READDIRPLUS_AUTO a listing's later pages carry no
 * attributes when nothing was looked at between them (Node's readdir and `ls -l` list a
 * directory whole before they stat), so each entry past the first page cost a LOOKUP
 * round trip when stat'ed: 777 of the ~4,100 requests of a walk of app-a. Listed in one
 * page, such a directory needs none. Past the limit, pages keep the kernel's
 * default: a listing of names only then reads no inodes beyond its first page.
 */
function listingBlksize(size: number, blockSize: number): number {
  const listing = size * LISTING_PER_DIRECTORY_BYTE;
  if (listing <= blockSize || listing > LISTING_PAGE_MAX) return blockSize;
  return 2 ** Math.ceil(Math.log2(listing));
}
