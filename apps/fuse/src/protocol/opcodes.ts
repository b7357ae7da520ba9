/**
 * Numbers of the FUSE kernel protocol (include/uapi/linux/fuse.h): opcodes, INIT
 * capability bits, open flags and the errnos this server answers with.
 */

/** The protocol version this server speaks; the kernel's minor may be higher or lower. */
export const PROTOCOL_MAJOR = 7;
export const PROTOCOL_MINOR = 39;
/** Below this minor the reply structs had other sizes; such kernels are refused. */
export const OLDEST_MINOR = 12;

export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SYNCFS: 50,
  TMPFILE: 51,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([name, code]) => [code, name]));

/** The opcode's name for the debug log ("OP_99" for one we don't know). */
export function opName(opcode: number): string {
  return OP_NAMES.get(opcode) ?? `OP_${opcode}`;
}

/** Requests that would change the filesystem: answered EROFS, as a read-only mount does. */
export const WRITE_OPS: ReadonlySet<number> = new Set([
  OP.SETATTR,
  OP.SYMLINK,
  OP.MKNOD,
  OP.MKDIR,
  OP.UNLINK,
  OP.RMDIR,
  OP.RENAME,
  OP.LINK,
  OP.WRITE,
  OP.SETXATTR,
  OP.REMOVEXATTR,
  OP.CREATE,
  OP.FALLOCATE,
  OP.RENAME2,
  OP.COPY_FILE_RANGE,
  OP.TMPFILE,
]);

/** Requests the kernel sends without expecting an answer. */
export const NO_REPLY_OPS: ReadonlySet<number> = new Set([OP.FORGET, OP.BATCH_FORGET, OP.INTERRUPT]);

/** INIT flags (the low 32 bits in `flags`, the high ones in `flags2`). */
export const INIT = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  /** The kernel takes ENOSYS from OPEN as "no open needed" (7.23); sent by the kernel. */
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  /** The kernel checks and caches POSIX ACLs itself, asking for each inode's once (7.26). */
  POSIX_ACL: 1 << 20,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  /** The same for OPENDIR (7.29). */
  NO_OPENDIR_SUPPORT: 1 << 24,
  INIT_EXT: 1 << 30,
  /** flags2 bit 4 (1 << 36): mmap is allowed on FOPEN_DIRECT_IO files (7.39). */
  FLAGS2_DIRECT_IO_ALLOW_MMAP: 1 << 4,
} as const;

/** Open reply flags. */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  CACHE_DIR: 1 << 3,
  /** No FLUSH at close(2): nothing is ever dirty (7.35; older kernels ignore it). */
  NOFLUSH: 1 << 5,
} as const;

/** Linux errnos used in replies (sent negated). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ENODEV: 19,
  EBADF: 9,
  ENOTDIR: 20,
  EISDIR: 21,
  EPROTO: 71,
} as const;

/** open(2) flags the server looks at (x86-64 / generic values). */
export const O_FLAGS = {
  ACCMODE: 0o3,
  RDONLY: 0,
  TRUNC: 0o1000,
  DIRECT: 0o40000,
} as const;

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
/** The root directory's nodeid, fixed by the protocol. */
export const ROOT_NODEID = 1n;
