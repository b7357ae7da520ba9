import { ErofsError } from "@erofs-ts/format";

/**
 * A positional byte source: an image file, an extra device, a buffer. Reads are async
 * and land in the caller's buffer, so one call can fetch a whole extent or pcluster.
 */
export interface BlockSource {
  /** For messages: a path or a description. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Fills `target` with the bytes at [position, position + target.length); a short read throws EIO. */
  read(target: Uint8Array, position: number): Promise<void>;
  /**
   * Optional: the bytes [position, position + length) in an array the source may share
   * (a view into a readahead window): read-only, and not to be kept long. Lets a caller
   * that only decodes the bytes skip a copy. Use through readView().
   */
  view?(position: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: lets go of bytes held only to speed up later reads (readahead windows), for
   * an owner that is idle. Reads work as before afterwards; they start cold.
   */
  release?(): void;
  close(): Promise<void>;
}

/** Throws the EIO every backend raises for a read outside the source (named once, as `where`). */
export function checkRange(source: BlockSource, position: number, length: number): void {
  if (!Number.isSafeInteger(position) || position < 0 || length < 0 || position + length > source.size) {
    throw new ErofsError("EIO", `read of ${length} bytes at ${position}, past the end (${source.size} bytes)`, source.name);
  }
}

/** Allocates and reads `length` bytes at `position`. */
export async function readBytes(source: BlockSource, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await source.read(out, position);
  return out;
}

/** `length` bytes at `position`, shared with the source where it can (see BlockSource.view): read-only. */
export function readView(source: BlockSource, position: number, length: number): Promise<Uint8Array> {
  return source.view ? source.view(position, length) : readBytes(source, position, length);
}
