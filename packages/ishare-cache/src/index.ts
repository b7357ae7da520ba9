export { PageCache, PAGE_SIZE, type CacheOwner, type CacheStats, type PageCacheOptions } from "./page-cache.js";
