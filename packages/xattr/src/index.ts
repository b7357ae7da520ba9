export { XATTR_ENTRY_HEADER_SIZE, parseXattrEntry, xattrEntrySize, type XattrEntry } from "./entry.js";
export { EMPTY_IBODY, XATTR_IBODY_HEADER_SIZE, checkXattrIbodySize, parseInlineXattrs, parseXattrIbody, parseXattrIbodyHeader, xattrIbodyHeaderSize, type InlineXattrEntry, type XattrIbody, type XattrIbodyHeader } from "./ibody.js";
export { parseLongPrefix, type LongPrefix } from "./long-prefix.js";
export { LONG_PREFIX_FLAG, XATTR_INDEX, entryMatches, isAclIndex, listedName, namespaceEnabled, resolvePrefix, splitName, storedNameToMatch, type NameContext, type NamespaceOptions } from "./names.js";
export { XATTR_FILTER_BITS, XATTR_FILTER_SEED, filterExcludes, loadXattrHasher, type Hash32 } from "./filter.js";
