import type { XattrEntry } from "./entry.js";
import type { LongPrefix } from "./long-prefix.js";

/** Namespace indexes of e_name_index. */
export const XATTR_INDEX = {
  USER: 1,
  POSIX_ACL_ACCESS: 2,
  POSIX_ACL_DEFAULT: 3,
  TRUSTED: 4,
  LUSTRE: 5,
  SECURITY: 6,
} as const;

export const LONG_PREFIX_FLAG = 0x80;

/** ASCII bytes of a literal (no TextEncoder: this package runs without DOM or Node typings). */
function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
/** The prefixes Linux's xattr handlers own. Lustre has none in EROFS: never listed or found. */
const HANDLER_PREFIX: ReadonlyMap<number, Uint8Array> = new Map([
  [XATTR_INDEX.USER, ascii("user.")],
  [XATTR_INDEX.POSIX_ACL_ACCESS, ascii("system.posix_acl_access")],
  [XATTR_INDEX.POSIX_ACL_DEFAULT, ascii("system.posix_acl_default")],
  [XATTR_INDEX.TRUSTED, ascii("trusted.")],
  [XATTR_INDEX.SECURITY, ascii("security.")],
]);

export interface NameContext extends NamespaceOptions {
  readonly prefixes: readonly LongPrefix[];
  /** CAP_SYS_ADMIN: trusted.* is listed only for a privileged caller. */
  readonly privileged: boolean;
}

/** The kernel's mount options that turn xattr namespaces off (both on unless false). */
export interface NamespaceOptions {
  /** `user_xattr` / `nouser_xattr`: whether user.* exists at all. */
  readonly userXattr?: boolean;
  /** `acl` / `noacl`: whether system.posix_acl_access and _default exist. */
  readonly acl?: boolean;
}

/**
 * Whether a namespace is served under these mount options. A namespace turned off is
 * left out of listxattr(2), and getxattr(2) of a name in it fails EOPNOTSUPP, as the
 * kernel's erofs answers on a `nouser_xattr` or `noacl` mount.
 */
export function namespaceEnabled(index: number, options: NamespaceOptions): boolean {
  if (index === XATTR_INDEX.USER) return options.userXattr !== false;
  if (isAclIndex(index)) return options.acl !== false;
  return true;
}

/** Whether a namespace index is one of the two POSIX ACL names (whole names, with no suffix). */
export function isAclIndex(index: number): boolean {
  return index === XATTR_INDEX.POSIX_ACL_ACCESS || index === XATTR_INDEX.POSIX_ACL_DEFAULT;
}

/** An entry's namespace index and infix once its long prefix (if any) is resolved; null if the id is out of range. */
export function resolvePrefix(entry: XattrEntry, prefixes: readonly LongPrefix[]): { baseIndex: number; infix: Uint8Array } | null {
  return prefixOfIndex(entry.nameIndex, prefixes);
}

const NO_INFIX = new Uint8Array(0);

function prefixOfIndex(nameIndex: number, prefixes: readonly LongPrefix[]): { baseIndex: number; infix: Uint8Array } | null {
  if (!(nameIndex & LONG_PREFIX_FLAG)) return { baseIndex: nameIndex, infix: NO_INFIX };
  const p = prefixes[nameIndex & 0x7f];
  return p ? { baseIndex: p.baseIndex, infix: p.infix } : null;
}

/**
 * The name listxattr(2) shows for an entry, or null when the kernel hides it: no
 * namespace (index 0, such as the default ishare fingerprint name), unknown or lustre
 * namespaces, trusted.* for unprivileged callers, namespaces the mount options turn off
 * (see namespaceEnabled), and long-prefix ids out of range.
 */
export function listedName(entry: XattrEntry, ctx: NameContext): Uint8Array | null {
  const p = resolvePrefix(entry, ctx.prefixes);
  if (!p) return null;
  const prefix = HANDLER_PREFIX.get(p.baseIndex);
  if (!prefix) return null;
  if (p.baseIndex === XATTR_INDEX.TRUSTED && !ctx.privileged) return null;
  if (!namespaceEnabled(p.baseIndex, ctx)) return null;
  const out = new Uint8Array(prefix.length + p.infix.length + entry.name.length);
  out.set(prefix);
  out.set(p.infix, prefix.length);
  out.set(entry.name, prefix.length + p.infix.length);
  return out;
}

/**
 * Splits a full name by the handler that owns it (namespace index + the rest), as the
 * VFS dispatches getxattr(2); null when no EROFS handler owns the name.
 */
export function splitName(full: Uint8Array): { index: number; suffix: Uint8Array } | null {
  for (const [index, prefix] of HANDLER_PREFIX) {
    if (full.length < prefix.length) continue;
    let match = true;
    for (let i = 0; i < prefix.length && match; i++) match = full[i] === prefix[i];
    if (!match) continue;
    const suffix = full.subarray(prefix.length);
    // The ACL handlers own exactly their name; "system.posix_acl_accessX" is not theirs.
    if (isAclIndex(index) && suffix.length) continue;
    return { index, suffix };
  }
  return null;
}

/**
 * The checks made of an entry before its stored name is compared: the namespace, the
 * length, and a long prefix's infix against the start of `suffix`. Returns the part of
 * `suffix` the stored name must equal, or null when the entry cannot be the attribute.
 * Taking the header's fields alone, it serves readers that have not read the name yet.
 */
export function storedNameToMatch(nameIndex: number, nameLength: number, index: number, suffix: Uint8Array, prefixes: readonly LongPrefix[]): Uint8Array | null {
  const p = prefixOfIndex(nameIndex, prefixes);
  if (!p || p.baseIndex !== index) return null;
  if (suffix.length !== p.infix.length + nameLength) return null;
  for (let i = 0; i < p.infix.length; i++) if (suffix[i] !== p.infix[i]) return null;
  return suffix.subarray(p.infix.length);
}

/** Whether an entry is the attribute (namespace `index`, name `suffix`), long prefixes included. */
export function entryMatches(entry: XattrEntry, index: number, suffix: Uint8Array, prefixes: readonly LongPrefix[]): boolean {
  const want = storedNameToMatch(entry.nameIndex, entry.name.length, index, suffix, prefixes);
  if (!want) return false;
  for (let i = 0; i < want.length; i++) if (want[i] !== entry.name[i]) return false;
  return true;
}
