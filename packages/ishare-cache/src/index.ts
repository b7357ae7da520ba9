export { PageCache, PAGE_BOOKKEEPING_BYTES, PAGE_SIZE, type CacheOwner, type CacheStats, type PageCacheOptions } from "./page-cache.js";
export { ShareRegistry, type ShareMember, type SharedInode } from "./share-registry.js";
export { encodeShareKey, bytesEqual, type ShareKey } from "./share-key.js";
