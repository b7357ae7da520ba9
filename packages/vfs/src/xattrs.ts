import { COMPAT, ErofsError, corrupted, type FileKind, type Inode } from "@erofs-ts/format";
import {
  EMPTY_IBODY,
  XATTR_ENTRY_HEADER_SIZE,
  XATTR_INDEX,
  checkXattrIbodySize,
  entryMatches,
  filterExcludes,
  isAclIndex,
  listedName,
  loadXattrHasher,
  namespaceEnabled,
  parseLongPrefix,
  parseXattrEntry,
  parseInlineXattrs,
  parseXattrIbody,
  parseXattrIbodyHeader,
  splitName,
  xattrEntrySize,
  xattrIbodyHeaderSize,
  type Hash32,
  type LongPrefix,
  type XattrEntry,
  type XattrIbody,
} from "@erofs-ts/xattr";
import type { MountContext } from "./context.js";
import { readData } from "./data-path.js";
import { readInodeMetadata, readMetadata } from "./metadata.js";
import { sharedXattrPosition, sharedXattrsInMetabox } from "./shared-xattr-place.js";
import { listAcrossMappings, lookupAcrossMappings, searchCrossesMappings } from "./xattr-held-page.js";

const NAME_MAX = 255;

/**
 * The vfs side of xattrs: reads an inode's xattr body, its shared entries and the
 * long-prefix table (the I/O), and applies @erofs-ts/xattr's decoding and the kernel's
 * rules: inline entries before shared ones, the name filter before any search.
 */
export class XattrAccess {
  readonly #ctx: MountContext;
  #prefixes: LongPrefix[] = [];
  #hash32: Hash32 | null = null;

  constructor(ctx: MountContext) {
    this.#ctx = ctx;
  }

  async init(): Promise<void> {
    const sb = this.#ctx.sb;
    if (sb.featureCompat & COMPAT.XATTR_FILTER) this.#hash32 = await loadXattrHasher();
    if (sb.xattrPrefixCount) this.#prefixes = await this.#loadPrefixes();
  }

  /**
   * The long-prefix table: inside the metabox on an image with one, else inside the packed
   * inode where the mount has one (the fragments feature), else (or when marked plain) on
   * the device itself, as the kernel looks for it.
   */
  async #loadPrefixes(): Promise<LongPrefix[]> {
    const ctx = this.#ctx;
    const sb = ctx.sb;
    let read: (off: number, len: number) => Promise<Uint8Array>;
    const holder = sb.featureCompat & COMPAT.PLAIN_XATTR_PFX ? undefined : (ctx.metabox ?? ctx.packed);
    if (!holder) {
      read = (off, len) => readMetadata(ctx, off, len, false);
    } else {
      read = async (off, len) => {
        if (off + len > holder.size) throw corrupted("long xattr prefix past its inode", "xattr prefixes");
        return readData(ctx, holder, off, len);
      };
    }
    const out: LongPrefix[] = [];
    let pos = sb.xattrPrefixStart * 4;
    for (let i = 0; i < sb.xattrPrefixCount; i++) {
      pos = (pos + 3) & ~3;
      const lenBytes = await read(pos, 2);
      const len = lenBytes[0]! | (lenBytes[1]! << 8);
      out.push(parseLongPrefix(await read(pos + 2, len), i));
      pos += 2 + len;
    }
    return out;
  }

  async #ibody(inode: Inode): Promise<XattrIbody> {
    const bytes = await this.#ibodyBytes(inode);
    return bytes ? parseXattrIbody(bytes, `nid ${inode.nid}`, inode.xattrSize) : EMPTY_IBODY;
  }

  /** The inode's xattr body (and shared ids past it), or null when it has none. */
  async #ibodyBytes(inode: Inode): Promise<Uint8Array | null> {
    if (inode.xattrSize === 0) return null;
    checkXattrIbodySize(inode.xattrSize, `nid ${inode.nid}`);
    const start = inode.payloadOffset - inode.xattrSize;
    const bytes = await readInodeMetadata(this.#ctx, inode, start, inode.xattrSize);
    // Shared ids that overflow the body are read on past it, as the kernel reads them.
    const headerSize = xattrIbodyHeaderSize(bytes);
    return headerSize > bytes.length ? readInodeMetadata(this.#ctx, inode, start, headerSize) : bytes;
  }

  async #sharedEntry(id: number): Promise<XattrEntry> {
    const offset = sharedXattrPosition(this.#ctx, id);
    const inMetabox = sharedXattrsInMetabox(this.#ctx);
    const where = `shared xattr ${id}`;
    const header = await readMetadata(this.#ctx, offset, XATTR_ENTRY_HEADER_SIZE, inMetabox);
    const size = xattrEntrySize(header);
    return parseXattrEntry(await readMetadata(this.#ctx, offset, size, inMetabox), 0, where).entry;
  }

  /**
   * Inline entries then shared ones (the kernel's order for listing and lookup), until
   * `visit` returns true. Inline entries are visited without awaiting: an async generator
   * here cost a promise per entry, and every file's fingerprint lookup went through it.
   */
  async #visit(ibody: XattrIbody, visit: (e: XattrEntry) => boolean): Promise<void> {
    // An inode without an xattr body has nothing to search (the kernel stops at ENODATA).
    if (ibody === EMPTY_IBODY) return;
    for (const e of ibody.inline) if (visit(e)) return;
    // The kernel sets up its reads of shared entries before it looks at their count: an
    // image whose superblock puts them in a metabox it does not have fails every search
    // that gets this far, an inode with no shared entries too.
    if (sharedXattrsInMetabox(this.#ctx) && !this.#ctx.metabox) {
      throw corrupted("shared xattrs in a metabox the image does not have", "superblock");
    }
    for (const id of ibody.sharedIds) if (visit(await this.#sharedEntry(id))) return;
  }

  async list(inode: Inode, privileged: boolean): Promise<Uint8Array[]> {
    const ibody = await this.#ibody(inode);
    const names: Uint8Array[] = [];
    const ctx = { prefixes: this.#prefixes, privileged, ...this.#ctx.xattrNamespaces };
    if (searchCrossesMappings(this.#ctx, inode, ibody)) return splitAtNuls(await listAcrossMappings(this.#ctx, inode, ibody, ctx));
    await this.#visit(ibody, (e) => {
      const n = listedName(e, ctx);
      if (n) names.push(n);
      return false;
    });
    return splitAtNuls(names);
  }

  async get(inode: Inode, name: Uint8Array, privileged: boolean): Promise<Uint8Array> {
    const value = await this.find(inode, name, privileged);
    if (!value) throw new ErofsError("ENODATA", "no such attribute", printable(name));
    return value;
  }

  /** Like get(), with null for an absent attribute: no error object for the common answer. */
  async find(inode: Inode, name: Uint8Array, privileged: boolean): Promise<Uint8Array | null> {
    // The VFS copies the name in first: an empty one, or one past XATTR_NAME_MAX, is ERANGE.
    if (name.length === 0 || name.length > NAME_MAX) throw new ErofsError("ERANGE", "attribute name empty or too long", printable(name));
    const split = splitName(name);
    if (withheldByVfs(inode.kind, split?.index, privileged)) return null;
    if (!split) throw new ErofsError("EOPNOTSUPP", "attribute namespace not supported", printable(name));
    // The kernel's VFS refuses a namespace prefix with nothing after it ("user.") before any
    // filesystem is asked; the ACL names are whole names, with no suffix by design.
    if (!split.suffix.length && !isAclIndex(split.index)) {
      throw new ErofsError("EINVAL", "attribute name is only a namespace prefix", printable(name));
    }
    // The VFS's ACL path refuses symlinks before asking erofs.
    if (isAclIndex(split.index) && inode.kind === "symlink") throw new ErofsError("EOPNOTSUPP", "symlinks have no POSIX ACLs", printable(name));
    if (!namespaceEnabled(split.index, this.#ctx.xattrNamespaces)) {
      throw new ErofsError("EOPNOTSUPP", "attribute namespace turned off by a mount option (nouser_xattr or noacl)", printable(name));
    }
    return this.#lookup(inode, split.index, split.suffix, name);
  }

  /** The page-cache-sharing fingerprint: the attribute the superblock's prefix id names, or null. */
  async fingerprint(inode: Inode): Promise<Uint8Array | null> {
    const sb = this.#ctx.sb;
    if (!(sb.featureCompat & COMPAT.ISHARE_XATTRS)) return null;
    const p = this.#prefixes[sb.ishareXattrPrefixId];
    if (!p) return null;
    return this.#lookup(inode, p.baseIndex, p.infix, p.infix);
  }

  /** The value of one attribute, or null when the inode has none of that name. */
  async #lookup(inode: Inode, index: number, suffix: Uint8Array, name: Uint8Array): Promise<Uint8Array | null> {
    if (suffix.length > NAME_MAX) throw new ErofsError("ERANGE", "attribute name too long", printable(name));
    // Most inodes have no attributes at all (every `ls -l` asks them for security.selinux).
    if (inode.xattrSize === 0) return null;
    const bytes = await this.#ibodyBytes(inode);
    if (!bytes) return null;
    const where = `nid ${inode.nid}`;
    // The filter answers before any entry is parsed, as the kernel reads none first: a
    // damaged entry fails only the lookups it does not answer.
    const header = parseXattrIbodyHeader(bytes, where, inode.xattrSize);
    if (this.#hash32 && this.#ctx.sb.xattrFilterReserved === 0 && filterExcludes(header.nameFilter, index, suffix, this.#hash32)) {
      return null;
    }
    const ibody = { ...header, inline: parseInlineXattrs(bytes, header, where, inode.xattrSize) };
    if (searchCrossesMappings(this.#ctx, inode, ibody)) return lookupAcrossMappings(this.#ctx, inode, ibody, this.#prefixes, index, suffix);
    let value: Uint8Array | null = null;
    await this.#visit(ibody, (e) => {
      if (!entryMatches(e, index, suffix, this.#prefixes)) return false;
      value = e.value;
      return true;
    });
    return value;
  }
}

/**
 * Whether the kernel's VFS answers getxattr of this name with ENODATA by itself, by the
 * name's text alone, before erofs reads anything: trusted.* to a caller without
 * CAP_SYS_ADMIN (listxattr hides those from it too), and user.* of anything but a regular
 * file or a directory (an image may still hold such attributes, from a tar), which
 * listxattr lists all the same: a listed name may never be readable, and a checker must
 * not count that as damage.
 */
export function xattrWithheldByVfs(kind: FileKind, name: string | Uint8Array, privileged = true): boolean {
  return withheldByVfs(kind, xattrNamespaceOf(name), privileged);
}

function withheldByVfs(kind: FileKind, index: number | undefined, privileged: boolean): boolean {
  if (index === XATTR_INDEX.TRUSTED) return !privileged;
  return index === XATTR_INDEX.USER && kind !== "file" && kind !== "dir";
}

/**
 * The namespace index (XATTR_INDEX) of a full attribute name, by the handler the kernel
 * would give it, or undefined when no erofs handler owns it.
 */
export function xattrNamespaceOf(name: string | Uint8Array): number | undefined {
  return splitName(typeof name === "string" ? new TextEncoder().encode(name) : name)?.index;
}

function printable(name: Uint8Array): string {
  return new TextDecoder().decode(name);
}

/**
 * The names as listxattr(2) hands them out: one buffer of names each ended by a NUL. A
 * name holding a NUL (a damaged entry, or one read from a stale page: xattr-held-page.ts)
 * reads as several there, empty ones included, so it is split the same way here.
 */
function splitAtNuls(names: Uint8Array[]): Uint8Array[] {
  if (!names.some((n) => n.includes(0))) return names;
  return names.flatMap((n) => {
    const parts: Uint8Array[] = [];
    let start = 0;
    for (let i = n.indexOf(0); i >= 0; i = n.indexOf(0, start)) {
      parts.push(n.subarray(start, i));
      start = i + 1;
    }
    parts.push(n.subarray(start));
    return parts;
  });
}
