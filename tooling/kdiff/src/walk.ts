import { createHash } from "node:crypto";
import { constants } from "node:os";

/**
 * What one reader (the kernel's mount, or the vfs) answers for one image, in one JSON
 * shape so that the two compare field by field. Byte strings (paths, names, targets,
 * xattr names and values) are base64; 64-bit numbers are decimal strings; a failed call
 * is its errno name ("EUCLEAN", "EFSCORRUPTED", ...) where the value would be.
 */
export interface WalkResult {
  /** Set when the image did not mount: then nothing else is. */
  mountError?: string;
  statfs?: { bsize: number; blocks: string; files: string; ffree: string; namemax: number };
  /** Pre-order, each directory's children in the reader's listing order. */
  entries: WalkEntry[];
  /** What is wrong whatever the kernel says (always a difference): a vfs exception that is not an ErofsError, an erofs-fuse daemon outliving its mount, erofs-cli extract killed. */
  unexpected?: string[];
  /** erofs-cli extract's stderr lines (the extract reader only): extract-view.ts allows one socket warning per socket the kernel shows, and one line per failure of the kernel's. */
  stderr?: string[];
  /** erofs-cli extract's exit status (the extract reader only): 1 where the kernel's walk failed somewhere, else 0. */
  exitStatus?: number;
}

export interface WalkEntry {
  path: string;
  lookupError?: string;
  type?: string;
  perm?: number;
  uid?: number;
  gid?: number;
  size?: string;
  mtimeNs?: string;
  nlink?: number;
  ino?: string;
  blocks?: string;
  rdev?: [number, number];
  target?: string;
  /** [name, value or errno name] in listxattr order, or listxattr's errno name. */
  xattrs?: [string, string][] | string;
  /** [offset, length asked, sha256 prefix or errno name] per positional read. */
  ranges?: [number, number, string][] | string;
  sha256?: string;
  /** A regular file's or directory's extents as FIEMAP reports them ([logical, physical, length, flags]), or the errno name. */
  extents?: number[][] | string;
  children?: string[] | string;
}

export const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");

const READ_LENGTHS = [1, 7, 4095, 4096, 4097, 65536, 200000];

/**
 * Three positional reads per regular file, from a hash of its path: both readers make the
 * same ones. Lengths straddle page boundaries and run past EOF.
 */
export function readRanges(path: Uint8Array, size: number): [number, number][] {
  const h = createHash("sha256").update("r").update(path).digest();
  return [0, 1, 2].map((i) => [h.readUInt32LE(i * 8) % size, READ_LENGTHS[h.readUInt32LE(i * 8 + 4) % READ_LENGTHS.length]!]);
}

export const shortHash = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex").slice(0, 16);

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);
// libuv has no name for these, so Node's error says "Unknown system error -117".
ERRNO_NAMES.set(117, "EUCLEAN");
ERRNO_NAMES.set(95, "EOPNOTSUPP");

const NAMES = new Set([...Object.keys(constants.errno), ...ERRNO_NAMES.values(), "EFSCORRUPTED"]);

/**
 * Whether a walk's value is a failed call's errno name rather than what the call returns.
 * Checked against the names, not their shape: a base64 value can be all capitals too.
 */
export const isErrnoName = (x: unknown): x is string => typeof x === "string" && (NAMES.has(x) || /^errno\d+$/.test(x));

/** The errno name of a failed Node fs call on the kernel's mount. */
export function errnoName(e: unknown): string {
  const errno = (e as NodeJS.ErrnoException | null)?.errno;
  if (typeof errno === "number") return ERRNO_NAMES.get(Math.abs(errno)) ?? `errno${Math.abs(errno)}`;
  throw e;
}
