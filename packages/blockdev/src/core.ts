// Browser-safe entry: no node: imports.
export { type BlockSource, checkRange, readBytes, readView } from "./source.js";
export { MemorySource } from "./memory.js";
export { OffsetSource } from "./offset.js";
export { ReadaheadSource, type ReadaheadOptions } from "./readahead.js";
export { BufferPool, type BufferPoolOptions } from "./buffer-pool.js";
