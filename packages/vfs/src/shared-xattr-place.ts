import { COMPAT } from "@erofs-ts/format";
import type { MountContext } from "./context.js";

/** Whether the image keeps its shared xattr entries in the metabox rather than on the device. */
export function sharedXattrsInMetabox(ctx: MountContext): boolean {
  return (ctx.sb.featureCompat & COMPAT.SHARED_EA_IN_METABOX) !== 0;
}

/** Where shared entry `id` starts: xattr_blkaddr's block, then 4 bytes per id step. */
export function sharedXattrPosition(ctx: MountContext, id: number): number {
  return ctx.sb.xattrBlkaddr * ctx.sb.blockSize + id * 4;
}
