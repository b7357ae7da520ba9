import { ErofsError } from "@erofs-ts/format";
import { checkRange, readView, type BlockSource } from "./source.js";

/**
 * A window into another source starting `offset` bytes in: the kernel's `fsoffset=`
 * mount option, for a filesystem that does not start at byte 0 of its file.
 */
export class OffsetSource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #inner: BlockSource;
  readonly #offset: number;

  constructor(inner: BlockSource, offset: number) {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > inner.size) {
      throw new ErofsError("EINVAL", `fsoffset ${offset} outside ${inner.name} (${inner.size} bytes)`, "fsoffset");
    }
    this.#inner = inner;
    this.#offset = offset;
    this.size = inner.size - offset;
    this.name = inner.name;
  }

  async read(target: Uint8Array, position: number): Promise<void> {
    checkRange(this, position, target.length);
    await this.#inner.read(target, position + this.#offset);
  }

  view(position: number, length: number): Promise<Uint8Array> {
    checkRange(this, position, length);
    return readView(this.#inner, position + this.#offset, length);
  }

  release(): void {
    this.#inner.release?.();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
