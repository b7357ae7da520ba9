export { mount, type MountOptions } from "./mount.js";
export { ErofsFs, type DirectoryEntry, type ReadStreamOptions } from "./filesystem.js";
export { parseMountOptions, parseByteCount, type ParsedMountOptions } from "./options.js";
export type { Stat, StatFs } from "./stat.js";
export type { DecodedExtentStats } from "./compressed.js";
export { COMPRESSION, ErofsError, type ErofsErrorCode, type Inode, type FileKind, type Superblock } from "@erofs-ts/format";
export { PageCache, type CacheStats } from "@erofs-ts/ishare-cache";
export type { FileSourceOptions } from "@erofs-ts/blockdev";
export { FingerprintIndex, buildFingerprintIndex, FINGERPRINT_INDEX_HEADER } from "./fingerprint-index.js";
