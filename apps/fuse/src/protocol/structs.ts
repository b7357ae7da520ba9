/**
 * Byte layouts of the FUSE messages this server reads and writes (little-endian, as the
 * kernel lays them out on x86-64 and arm64). Requests are decoded from the buffer
 * `/dev/fuse` filled; fixed-size replies are built into slices of shared blocks
 * (BlockSlicer).
 */
import { BlockSlicer } from "./block-slicer.js";

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const INIT_OUT_SIZE = 64;
export const OPEN_OUT_SIZE = 16;
export const STATFS_OUT_SIZE = 80;
export const DIRENT_HEADER_SIZE = 24;

/** Where fixed-size replies are built (see BlockSlicer). */
const replies = new BlockSlicer();

/** Writes a number below 2^53 as a little-endian u64, without making a BigInt. */
function setU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, n >>> 0, true);
  v.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true);
}

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export interface InHeader {
  readonly len: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeid: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** A request: its header and the argument bytes after it. */
export interface Request {
  readonly header: InHeader;
  readonly body: DataView;
  readonly bodyBytes: Uint8Array;
}

export function parseRequest(buffer: Uint8Array, length: number): Request {
  if (length < IN_HEADER_SIZE) throw new ProtocolError(`short request: ${length} bytes`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, length);
  const len = view.getUint32(0, true);
  if (len !== length) throw new ProtocolError(`request length ${len} but ${length} bytes read`);
  const header: InHeader = {
    len,
    opcode: view.getUint32(4, true),
    unique: view.getBigUint64(8, true),
    nodeid: view.getBigUint64(16, true),
    uid: view.getUint32(24, true),
    gid: view.getUint32(28, true),
    pid: view.getUint32(32, true),
  };
  // Extensions (total_extlen) are only sent for features this server never enables.
  const bodyBytes = buffer.subarray(IN_HEADER_SIZE, length);
  return { header, body: new DataView(bodyBytes.buffer, bodyBytes.byteOffset, bodyBytes.length), bodyBytes };
}

/** Checks a request body holds at least `size` bytes of fixed arguments. */
export function need(req: Request, size: number): DataView {
  if (req.body.byteLength < size) throw new ProtocolError(`opcode ${req.header.opcode}: ${req.body.byteLength} argument bytes, need ${size}`);
  return req.body;
}

/** A NUL-terminated name starting at `offset` of the body. */
export function nameAt(req: Request, offset: number): Uint8Array {
  const bytes = req.bodyBytes.subarray(offset);
  const nul = bytes.indexOf(0);
  if (nul < 0) throw new ProtocolError("name without terminating NUL");
  return bytes.subarray(0, nul);
}

export interface InitIn {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly flags2: number;
}

export function parseInitIn(req: Request): InitIn {
  const v = need(req, 16);
  const flags = v.getUint32(12, true);
  return {
    major: v.getUint32(0, true),
    minor: v.getUint32(4, true),
    maxReadahead: v.getUint32(8, true),
    flags,
    flags2: v.byteLength >= 20 ? v.getUint32(16, true) : 0,
  };
}

export interface InitOut {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWrite: number;
  readonly timeGran: number;
  readonly maxPages: number;
  readonly flags2: number;
}

export function encodeInitOut(o: InitOut): Uint8Array {
  const out = replies.take(INIT_OUT_SIZE);
  const v = replies.view;
  const at = out.byteOffset;
  v.setUint32(at, o.major, true);
  v.setUint32(at + 4, o.minor, true);
  v.setUint32(at + 8, o.maxReadahead, true);
  v.setUint32(at + 12, o.flags >>> 0, true);
  v.setUint16(at + 16, o.maxBackground, true);
  v.setUint16(at + 18, o.congestionThreshold, true);
  v.setUint32(at + 20, o.maxWrite, true);
  v.setUint32(at + 24, o.timeGran, true);
  v.setUint16(at + 28, o.maxPages, true);
  v.setUint16(at + 30, 0, true); // map_alignment
  v.setUint32(at + 32, o.flags2 >>> 0, true);
  return out;
}

/** What the server knows about an inode, in the kernel's stat terms. */
export interface Attr {
  readonly ino: bigint;
  readonly size: bigint;
  readonly blocks: bigint;
  readonly mtimeSec: bigint;
  readonly mtimeNsec: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly blksize: number;
}

/** Writes a fuse_attr at `at`. atime and ctime are the mtime, as EROFS reports them. */
export function writeAttr(v: DataView, at: number, a: Attr): void {
  const sec = BigInt.asUintN(64, a.mtimeSec);
  v.setBigUint64(at, a.ino, true);
  v.setBigUint64(at + 8, a.size, true);
  v.setBigUint64(at + 16, a.blocks, true);
  v.setBigUint64(at + 24, sec, true);
  v.setBigUint64(at + 32, sec, true);
  v.setBigUint64(at + 40, sec, true);
  v.setUint32(at + 48, a.mtimeNsec, true);
  v.setUint32(at + 52, a.mtimeNsec, true);
  v.setUint32(at + 56, a.mtimeNsec, true);
  v.setUint32(at + 60, a.mode, true);
  v.setUint32(at + 64, a.nlink, true);
  v.setUint32(at + 68, a.uid, true);
  v.setUint32(at + 72, a.gid, true);
  v.setUint32(at + 76, a.rdev, true);
  v.setUint32(at + 80, a.blksize, true);
  v.setUint32(at + 84, 0, true);
}

/** How long the kernel may trust names and attributes: the image never changes. */
export interface Validity {
  readonly seconds: number;
}

/** fuse_entry_out at `at`; nodeid 0 means "no entry" (a negative, cacheable lookup). */
export function writeEntryOut(v: DataView, at: number, nodeid: bigint, attr: Attr | null, valid: Validity): void {
  v.setBigUint64(at, nodeid, true);
  setU64(v, at + 8, 0); // generation: nodeids are never reused for another inode
  setU64(v, at + 16, valid.seconds);
  setU64(v, at + 24, valid.seconds);
  v.setUint32(at + 32, 0, true);
  v.setUint32(at + 36, 0, true);
  if (attr) writeAttr(v, at + 40, attr);
}

export function encodeEntryOut(nodeid: bigint, attr: Attr | null, valid: Validity): Uint8Array {
  const out = replies.take(ENTRY_OUT_SIZE);
  writeEntryOut(replies.view, out.byteOffset, nodeid, attr, valid);
  return out;
}

export function encodeAttrOut(attr: Attr, valid: Validity): Uint8Array {
  const out = replies.take(ATTR_OUT_SIZE);
  const v = replies.view;
  setU64(v, out.byteOffset, valid.seconds);
  writeAttr(v, out.byteOffset + 16, attr);
  return out;
}

export function encodeOpenOut(fh: bigint, openFlags: number): Uint8Array {
  const out = replies.take(OPEN_OUT_SIZE);
  const v = replies.view;
  v.setBigUint64(out.byteOffset, fh, true);
  v.setUint32(out.byteOffset + 8, openFlags, true);
  return out;
}

export interface StatfsOut {
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: bigint;
  readonly ffree: bigint;
  readonly bsize: number;
  readonly namelen: number;
}

export function encodeStatfsOut(s: StatfsOut): Uint8Array {
  const out = replies.take(STATFS_OUT_SIZE);
  const v = replies.view;
  const at = out.byteOffset;
  setU64(v, at, s.blocks);
  setU64(v, at + 8, s.bfree);
  setU64(v, at + 16, s.bavail);
  v.setBigUint64(at + 24, s.files, true);
  v.setBigUint64(at + 32, s.ffree, true);
  v.setUint32(at + 40, s.bsize, true);
  v.setUint32(at + 44, s.namelen, true);
  v.setUint32(at + 48, s.bsize, true); // frsize
  return out;
}

export function encodeU32Pair(a: number, b = 0): Uint8Array {
  const out = replies.take(8);
  replies.view.setUint32(out.byteOffset, a, true);
  replies.view.setUint32(out.byteOffset + 4, b, true);
  return out;
}

export function encodeU64(value: bigint): Uint8Array {
  const out = replies.take(8);
  replies.view.setBigUint64(out.byteOffset, value, true);
  return out;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Size of one fuse_dirent record (plain) or fuse_direntplus record (plus). */
export function direntSize(nameLength: number, plus: boolean): number {
  return align8((plus ? ENTRY_OUT_SIZE : 0) + DIRENT_HEADER_SIZE + nameLength);
}

/** A fuse_dirent's fields: `offset` is where the listing goes on after this entry. */
export interface Dirent {
  ino: bigint;
  offset: number;
  type: number;
  name: Uint8Array;
}

/** The entry_out before a READDIRPLUS record (nodeid 0 and no attributes: listed, not linked). */
export interface DirentEntry {
  nodeid: bigint;
  attr: Attr | null;
  valid: Validity;
}

/** Writes a fuse_dirent (after an entry_out when `plus`); returns the record size. */
export function writeDirent(out: Uint8Array, at: number, d: Dirent, plus: DirentEntry | null): number {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = at;
  if (plus) {
    writeEntryOut(v, pos, plus.nodeid, plus.attr, plus.valid);
    pos += ENTRY_OUT_SIZE;
  }
  v.setBigUint64(pos, d.ino, true);
  v.setBigUint64(pos + 8, BigInt(d.offset), true);
  v.setUint32(pos + 16, d.name.length, true);
  v.setUint32(pos + 20, d.type, true);
  out.set(d.name, pos + DIRENT_HEADER_SIZE);
  const size = direntSize(d.name.length, plus !== null);
  out.fill(0, pos + DIRENT_HEADER_SIZE + d.name.length, at + size);
  return size;
}

/** The 40-byte fuse_read_in / 24-byte lseek_in and friends: small readers for the server. */
export const args = {
  u64: (v: DataView, at: number): bigint => v.getBigUint64(at, true),
  u32: (v: DataView, at: number): number => v.getUint32(at, true),
};
