import { ErofsError } from "@erofs-ts/format";
import { readView, type BlockSource } from "@erofs-ts/blockdev";

/**
 * An extra device of an image mounted without its devices, read as the kernel then reads
 * it (its "flatdev" mode): the device's blocks lie in the image itself, from the device's
 * unified address (uniaddr) on, as in an image with its blobs appended. Reads past the
 * image's end fail with EIO, as the kernel's do, and the message names the device that
 * was not given.
 */
export class FlatDeviceSource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #image: BlockSource;
  readonly #start: number;
  readonly #index: number;

  constructor(image: BlockSource, start: number, index: number) {
    this.#image = image;
    this.#start = start;
    this.#index = index;
    this.name = `extra device ${index + 1}, read from ${image.name}`;
    // A start past 2^53 (a corrupt uniaddr) is past any image: nothing can be read there.
    this.size = Number.isSafeInteger(start) ? Math.max(0, image.size - start) : 0;
  }

  read(target: Uint8Array, position: number): Promise<void> {
    this.#check(position, target.length);
    return this.#image.read(target, this.#start + position);
  }

  view(position: number, length: number): Promise<Uint8Array> {
    this.#check(position, length);
    return readView(this.#image, this.#start + position, length);
  }

  #check(position: number, length: number): void {
    if (Number.isSafeInteger(position) && position >= 0 && length >= 0 && position + length <= this.size) return;
    throw new ErofsError(
      "EIO",
      `data on extra device ${this.#index + 1}, which was not given, lies past the end of the image (pass the device: device=, or --device)`,
      "device",
    );
  }

  /** The image is closed by whoever opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
