import { unsupported, type Inode } from "@erofs-ts/format";
import type { MountContext } from "./context.js";

// TEMPORARY until @erofs-ts/xattr lands: replaced in the same change.
export class XattrAccess {
  constructor(readonly ctx: MountContext) {}
  async init(): Promise<void> {}
  async list(_inode: Inode): Promise<Uint8Array[]> {
    return [];
  }
  async get(inode: Inode, _name: Uint8Array): Promise<Uint8Array> {
    throw unsupported("xattrs pending", `nid ${inode.nid}`);
  }
  async fingerprint(_inode: Inode): Promise<Uint8Array | null> {
    return null;
  }
}
