import { open, type FileHandle } from "node:fs/promises";
import { ErofsError } from "@erofs-ts/format";
import { checkRange, type BlockSource } from "./source.js";

/**
 * An image file or block device read with positional reads (pread on the libuv thread
 * pool), so concurrent readers never wait on each other's seek position.
 */
export class FileSource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #handle: FileHandle;
  #closed = false;

  private constructor(handle: FileHandle, name: string, size: number) {
    this.#handle = handle;
    this.name = name;
    this.size = size;
  }

  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(code ?? e);
      throw new ErofsError(code === "ENOENT" ? "ENOENT" : "EIO", `cannot open ${path}: ${reason}`, path, { cause: e });
    }
    try {
      const st = await handle.stat();
      let size = st.size;
      if (st.isBlockDevice()) size = await blockDeviceSize(handle);
      else if (!st.isFile()) throw new ErofsError("EINVAL", `${path} is not a file or block device`, path);
      return new FileSource(handle, path, size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(target: Uint8Array, position: number): Promise<void> {
    checkRange(this, position, target.length);
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await this.#handle.read(target, done, target.length - done, position + done);
      if (bytesRead === 0) {
        throw new ErofsError("EIO", `short read at ${position + done} of ${this.name}`, this.name);
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}

/** Block devices report size 0 in stat; the end offset is found by reading near it. */
async function blockDeviceSize(handle: FileHandle): Promise<number> {
  // Binary search for the last readable byte: no ioctl from Node, and it costs ~40 reads.
  const probe = new Uint8Array(1);
  let lo = 0;
  let hi = 2 ** 50;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const { bytesRead } = await handle.read(probe, 0, 1, mid - 1);
    if (bytesRead === 1) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
