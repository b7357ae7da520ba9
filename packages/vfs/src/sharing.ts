import type { Inode } from "@erofs-ts/format";
import { ShareRegistry, type CacheOwner, type PageCache, type SharedInode } from "@erofs-ts/ishare-cache";
import { nidKey } from "./nid-key.js";

/** One registry per page cache, so every mount given the same cache shares through it. */
const registries = new WeakMap<PageCache, Promise<ShareRegistry>>();

export function registryFor(cache: PageCache): Promise<ShareRegistry> {
  let r = registries.get(cache);
  if (!r) {
    r = ShareRegistry.create(cache);
    registries.set(cache, r);
  }
  return r;
}

/**
 * A mount's part in page cache sharing (the kernel's inode_share): which of its regular
 * files joined which shared inode. Files join when first loaded, as the kernel does at
 * inode fill time, and leave when the image is unmounted.
 */
export class MountSharing {
  /** The shared inode each joined file (by nidKey) is a member of. */
  readonly #members = new Map<number | bigint, SharedInode>();

  constructor(
    readonly registry: ShareRegistry,
    /** UTF-8 bytes of domain_id: part of every key, never printed. */
    readonly domain: Uint8Array,
    readonly blockSize: number,
    readonly fingerprintOf: (inode: Inode) => Promise<Uint8Array | null>,
  ) {}

  /** Joins a regular file to its shared inode if it has a usable fingerprint. */
  async attach(inode: Inode): Promise<void> {
    const key = nidKey(inode.nid);
    if (inode.kind !== "file" || this.#members.has(key)) return;
    const fp = await this.fingerprintOf(inode);
    // As the kernel: no fingerprint, or one longer than a block, means "not shared".
    if (!fp || fp.length === 0 || fp.length > this.blockSize) return;
    if (this.#members.has(key)) return;
    this.#members.set(key, this.registry.join({ fingerprint: fp, domain: this.domain, size: inode.size }));
  }

  ownerOf(inode: Inode): CacheOwner | undefined {
    const shared = this.#members.get(nidKey(inode.nid));
    return shared && this.registry.ownerOf(shared);
  }

  isShared(inode: Inode): boolean {
    return this.#members.has(nidKey(inode.nid));
  }

  /** Leaves every shared inode: pages stay for the other members, go with the last. */
  detachAll(): void {
    for (const shared of this.#members.values()) this.registry.leave(shared);
    this.#members.clear();
  }

  get sharedFiles(): number {
    return this.#members.size;
  }
}
