import { checkRange, type BlockSource } from "./source.js";

/** A source over bytes already in memory (tests, browsers, images fetched whole). */
export class MemorySource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array, name = "memory") {
    this.#bytes = bytes;
    this.size = bytes.length;
    this.name = name;
  }

  async read(target: Uint8Array, position: number): Promise<void> {
    checkRange(this, position, target.length);
    target.set(this.#bytes.subarray(position, position + target.length));
  }

  async close(): Promise<void> {}
}
