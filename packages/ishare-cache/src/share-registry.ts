import xxhash from "xxhash-wasm";
import type { CacheOwner, PageCache } from "./page-cache.js";
import { bytesEqual, encodeShareKey, type ShareKey } from "./share-key.js";

/** A real inode of some mount that can fill pages of the shared inode it joined. */
export interface ShareMember {
  readonly mountId: number;
}

/** Pages of identical files in one domain, owned once and filled by any member. */
export interface SharedInode extends CacheOwner {
  readonly size: number;
  /** Members currently able to fill missing pages. */
  readonly members: ReadonlySet<ShareMember>;
}

interface SharedState extends SharedInode {
  readonly encoded: Uint8Array;
  readonly hash: number;
  readonly members: Set<ShareMember>;
}

/**
 * Finds or creates the shared inode for a key: xxh32 of the encoded key picks a bucket,
 * full-byte equality decides. When the last member leaves, the pages are freed.
 */
export class ShareRegistry {
  readonly #cache: PageCache;
  readonly #hash32: (bytes: Uint8Array, seed: number) => number;
  readonly #buckets = new Map<number, SharedState[]>();
  readonly #byMember = new Map<ShareMember, SharedState>();
  #serial = 0;

  private constructor(cache: PageCache, hash32: (bytes: Uint8Array, seed: number) => number) {
    this.#cache = cache;
    this.#hash32 = hash32;
  }

  static async create(cache: PageCache): Promise<ShareRegistry> {
    const { h32Raw } = await xxhash();
    return new ShareRegistry(cache, (b, seed) => h32Raw(b, seed));
  }

  /** Adds `member` to the shared inode of `key` (creating it) and returns that inode. */
  join(key: ShareKey, member: ShareMember): SharedInode {
    const existing = this.#byMember.get(member);
    if (existing) return existing;
    const encoded = encodeShareKey(key);
    const hash = this.#hash32(encoded, 0);
    let bucket = this.#buckets.get(hash);
    if (!bucket) this.#buckets.set(hash, (bucket = []));
    let shared = bucket.find((s) => bytesEqual(s.encoded, encoded));
    if (!shared) {
      // The cache key is a serial number: nothing derived from the fingerprint or the
      // domain ever appears in keys, stats or messages.
      const owner = this.#cache.owner(`shared:${++this.#serial}`);
      shared = { key: owner.key, size: key.size, encoded, hash, members: new Set() };
      // Reuse the cache's owner object identity through its key.
      bucket.push(shared);
    }
    shared.members.add(member);
    this.#byMember.set(member, shared);
    return shared;
  }

  /** Removes a member; the shared pages stay for the others, and go with the last one. */
  leave(member: ShareMember): void {
    const shared = this.#byMember.get(member);
    if (!shared) return;
    this.#byMember.delete(member);
    shared.members.delete(member);
    if (shared.members.size > 0) return;
    this.#cache.drop(this.#cache.owner(shared.key));
    const bucket = this.#buckets.get(shared.hash)!;
    bucket.splice(bucket.indexOf(shared), 1);
    if (bucket.length === 0) this.#buckets.delete(shared.hash);
  }

  /** The cache owner holding a shared inode's pages. */
  ownerOf(shared: SharedInode): CacheOwner {
    return this.#cache.owner(shared.key);
  }

  get sharedInodes(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.length;
    return n;
  }
}
