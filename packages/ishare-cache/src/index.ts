export { PageCache, PAGE_BOOKKEEPING_BYTES, PAGE_SIZE, type CacheOwner, type CacheStats, type PageCacheOptions } from "./page-cache.js";
export { ShareRegistry, type SharedInode } from "./share-registry.js";
export { encodeShareKey, type ShareKey } from "./share-key.js";
export { RECYCLE_KEEP_MS, RECYCLE_MAX_BYTES, recycledSlabBytes, releaseRecycledSlabs } from "./slab-recycler.js";
