import { nidKey } from "@erofs-ts/vfs";
import { ROOT_NODEID } from "./protocol/opcodes.js";

/**
 * nodeids the kernel holds, and how many lookups it has counted on each. The kernel
 * remembers an inode from every successful LOOKUP (and READDIRPLUS entry) and gives the
 * count back in FORGET; when it reaches zero the nodeid is no longer in use.
 *
 * nodeids are derived from nids (root = 1, any other nid n = n + 2), so a nodeid always
 * names the same inode: no table lookup is needed to serve a request, and the counts
 * only track lifetimes.
 */
export class NodeTable {
  /** Lookup counts by nodeid, keyed by nidKey (numbers for every real image's nodeids). */
  readonly #counts = new Map<number | bigint, number>();
  readonly #rootNid: bigint;

  constructor(rootNid: bigint) {
    this.#rootNid = rootNid;
  }

  nodeidOf(nid: bigint): bigint {
    return nid === this.#rootNid ? ROOT_NODEID : nid + 2n;
  }

  /** The nid a nodeid names, or null for one this server never hands out. */
  nidOf(nodeid: bigint): bigint | null {
    if (nodeid === ROOT_NODEID) return this.#rootNid;
    if (nodeid < 2n) return null;
    const nid = nodeid - 2n;
    return nid === this.#rootNid ? null : nid;
  }

  /** One more reference the kernel holds (a LOOKUP reply or a READDIRPLUS entry). */
  remember(nodeid: bigint): void {
    if (nodeid === ROOT_NODEID) return;
    const key = nidKey(nodeid);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** FORGET: the kernel drops `count` references. */
  forget(nodeid: bigint, count: bigint): void {
    const key = nidKey(nodeid);
    // A count the kernel never had (past 2^53) drops them all, as any larger one would.
    const left = (this.#counts.get(key) ?? 0) - Number(count);
    if (left > 0) this.#counts.set(key, left);
    else this.#counts.delete(key);
  }

  /** nodeids the kernel still holds (the root, which is never looked up, not counted). */
  get live(): number {
    return this.#counts.size;
  }

  /** Sum of outstanding lookup counts. */
  get references(): bigint {
    let total = 0;
    for (const c of this.#counts.values()) total += c;
    return BigInt(total);
  }
}
