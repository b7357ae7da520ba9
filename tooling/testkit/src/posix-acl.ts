/** ACL_UNDEFINED_ID: the id of the entries that name no user or group (owner, group, mask, other). */
export const ACL_UNDEFINED_ID = 0xffffffff;

/** One entry of a POSIX ACL: ACL_USER_OBJ (0x01), ACL_USER (0x02), ACL_GROUP_OBJ (0x04), ACL_GROUP (0x08), ACL_MASK (0x10), ACL_OTHER (0x20). */
export type PosixAclEntry = readonly [tag: number, perm: number, id: number];

/**
 * The binary form setxattr(2) takes for system.posix_acl_access/_default: a le32 version
 * (2), then per entry le16 tag, le16 permission bits, le32 id. Entries go in the order
 * given, which the kernel wants sorted by tag, then id.
 */
export function posixAclXattr(entries: readonly PosixAclEntry[]): Buffer {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(id, 8 + i * 8);
  });
  return b;
}
