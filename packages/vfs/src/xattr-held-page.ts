import { nidInMetabox, type Inode } from "@erofs-ts/format";
import { PAGE_SIZE } from "@erofs-ts/ishare-cache";
import { XATTR_ENTRY_HEADER_SIZE, listedName, storedNameToMatch, type LongPrefix, type NameContext, type XattrIbody } from "@erofs-ts/xattr";
import type { MountContext } from "./context.js";
import { readMetadata } from "./metadata.js";
import { sharedXattrPosition, sharedXattrsInMetabox } from "./shared-xattr-place.js";

/**
 * An xattr search whose shared entries lie in the other mapping from the inode's own
 * entries (an inode in the metabox with shared entries on the device, or the reverse),
 * read as the kernel reads it.
 *
 * The kernel walks an inode's entries through one buffer that holds one page. Between
 * the inline entries and the shared ones it points the buffer at the other mapping but
 * keeps the page it holds, and a read whose page index equals that page's is served from
 * it: the shared entry is then read out of the other mapping's page. Measured with
 * mkfs.erofs 1.9.3 `-m4096` (inodes in the metabox, shared entries on the device): a file
 * with one inline and one shared attribute, both in page 0 of their mappings, lists only
 * the inline one on a kernel 6.18 mount, and fsck.erofs 1.9.3 extracts only that one;
 * files with the shared attribute alone list it.
 *
 * Only a search that reads an inline entry first can meet a stale page (the buffer
 * starts empty), so searches without inline entries or shared ids never come here.
 */
export function searchCrossesMappings(ctx: MountContext, inode: Inode, ibody: XattrIbody): boolean {
  return ibody.inline.length > 0 && ibody.sharedIds.length > 0 && nidInMetabox(inode.nid) !== sharedXattrsInMetabox(ctx);
}

interface Page {
  readonly index: number;
  readonly inMetabox: boolean;
}

/** The kernel's one-page buffer: which page (of which mapping) a read at a position is served from. */
class HeldPage {
  #held: Page | null = null;
  readonly #ctx: MountContext;

  constructor(ctx: MountContext) {
    this.#ctx = ctx;
  }

  /** Metabox pages count from the metabox's start, the device's from the device's (before fsoffset). */
  #base(inMetabox: boolean): number {
    return inMetabox ? 0 : this.#ctx.fsoffset;
  }

  /** A read at `pos` of the mapping `inMetabox`: kept on the held page when its index matches, whichever mapping that came from. */
  touch(pos: number, inMetabox: boolean): Page {
    const index = Math.floor((this.#base(inMetabox) + pos) / PAGE_SIZE);
    if (this.#held?.index !== index) this.#held = { index, inMetabox };
    return this.#held;
  }

  /** The block-bounded pieces the kernel reads `length` bytes at `pos` in, one buffer read each. */
  *slices(pos: number, length: number): Generator<[at: number, size: number]> {
    const bs = this.#ctx.sb.blockSize;
    for (let at = pos; at < pos + length; ) {
      const size = Math.min(bs - (at % bs), pos + length - at);
      yield [at, size];
      at += size;
    }
  }

  /** `length` bytes at `pos` of the mapping `inMetabox`, each piece from the page the buffer serves it from. */
  async read(pos: number, length: number, inMetabox: boolean): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (const [at, size] of this.slices(pos, length)) out.set(await this.#readPiece(at, size, inMetabox), at - pos);
    return out;
  }

  async #readPiece(at: number, size: number, inMetabox: boolean): Promise<Uint8Array> {
    const inPage = (this.#base(inMetabox) + at) % PAGE_SIZE;
    const page = this.touch(at, inMetabox);
    return readMetadata(this.#ctx, page.index * PAGE_SIZE - this.#base(page.inMetabox) + inPage, size, page.inMetabox);
  }

  /** Whether the bytes at `pos` equal `expected`, compared piece by piece and stopping at the first piece that differs. */
  async equals(pos: number, expected: Uint8Array, inMetabox: boolean): Promise<boolean> {
    for (const [at, size] of this.slices(pos, expected.length)) {
      const got = await this.#readPiece(at, size, inMetabox);
      if (!samePiece(got, expected, at - pos)) return false;
    }
    return true;
  }

  /**
   * Like equals(), for bytes already read (`stored`, which sit at `pos` of the held page's
   * own mapping): no I/O, but the pieces compared still move the buffer as the kernel's reads do.
   */
  storedEquals(pos: number, stored: Uint8Array, expected: Uint8Array, inMetabox: boolean): boolean {
    for (const [at, size] of this.slices(pos, expected.length)) {
      this.touch(at, inMetabox);
      if (!samePiece(stored.subarray(at - pos, at - pos + size), expected, at - pos)) return false;
    }
    return true;
  }
}

/** Whether `piece` equals `expected`'s bytes from `from` on. */
function samePiece(piece: Uint8Array, expected: Uint8Array, from: number): boolean {
  for (let i = 0; i < piece.length; i++) if (piece[i] !== expected[from + i]) return false;
  return true;
}

/** Where an inline entry starts in the inode's mapping. */
function inlinePosition(inode: Inode, entryOffset: number): number {
  return inode.payloadOffset - inode.xattrSize + entryOffset;
}

interface SharedHeader {
  readonly pos: number;
  readonly nameLength: number;
  readonly nameIndex: number;
  readonly valueSize: number;
}

const NO_BYTES = new Uint8Array(0);

/** Reads the shared entries' headers through the held page, one at a time. */
async function* sharedHeaders(ctx: MountContext, ibody: XattrIbody, held: HeldPage): AsyncGenerator<SharedHeader> {
  const inMetabox = sharedXattrsInMetabox(ctx);
  for (const id of ibody.sharedIds) {
    const pos = sharedXattrPosition(ctx, id);
    const h = await held.read(pos, XATTR_ENTRY_HEADER_SIZE, inMetabox);
    yield { pos, nameLength: h[0]!, nameIndex: h[1]!, valueSize: h[2]! | (h[3]! << 8) };
  }
}

/** listxattr of an inode whose search crosses mappings: the names, as the kernel lists them. */
export async function listAcrossMappings(ctx: MountContext, inode: Inode, ibody: XattrIbody, names: NameContext): Promise<Uint8Array[]> {
  const held = new HeldPage(ctx);
  const own = nidInMetabox(inode.nid);
  const out: Uint8Array[] = [];
  for (const e of ibody.inline) {
    const pos = inlinePosition(inode, e.offset);
    held.touch(pos, own);
    const name = listedName(e, names);
    if (!name) continue;
    // The kernel copies a listed name out of the buffer: its pages are read.
    for (const [at] of held.slices(pos + XATTR_ENTRY_HEADER_SIZE, e.name.length)) held.touch(at, own);
    out.push(name);
  }
  const inMetabox = sharedXattrsInMetabox(ctx);
  for await (const h of sharedHeaders(ctx, ibody, held)) {
    if (!listedName({ nameIndex: h.nameIndex, name: NO_BYTES, value: NO_BYTES }, names)) continue;
    const name = await held.read(h.pos + XATTR_ENTRY_HEADER_SIZE, h.nameLength, inMetabox);
    out.push(listedName({ nameIndex: h.nameIndex, name, value: NO_BYTES }, names)!);
  }
  return out;
}

/** getxattr of an inode whose search crosses mappings: the value of `index` + `suffix`, or null, as the kernel finds it. */
export async function lookupAcrossMappings(ctx: MountContext, inode: Inode, ibody: XattrIbody, prefixes: readonly LongPrefix[], index: number, suffix: Uint8Array): Promise<Uint8Array | null> {
  const held = new HeldPage(ctx);
  const own = nidInMetabox(inode.nid);
  for (const e of ibody.inline) {
    const pos = inlinePosition(inode, e.offset);
    held.touch(pos, own);
    const want = storedNameToMatch(e.nameIndex, e.name.length, index, suffix, prefixes);
    // Inline entries come first, so the held page is still the inode's own: the parsed
    // name is what the kernel compares; only the pages it moves through matter here.
    if (want && held.storedEquals(pos + XATTR_ENTRY_HEADER_SIZE, e.name, want, own)) return e.value;
  }
  const inMetabox = sharedXattrsInMetabox(ctx);
  for await (const h of sharedHeaders(ctx, ibody, held)) {
    const want = storedNameToMatch(h.nameIndex, h.nameLength, index, suffix, prefixes);
    if (!want) continue;
    const namePos = h.pos + XATTR_ENTRY_HEADER_SIZE;
    if (!(await held.equals(namePos, want, inMetabox))) continue;
    return held.read(namePos + h.nameLength, h.valueSize, inMetabox);
  }
  return null;
}
