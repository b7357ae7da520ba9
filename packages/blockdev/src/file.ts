import { constants, read as readCallback, readSync, stat as statCallback } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { ERRNO, ErofsError, systemErrorReason, type ErofsErrorCode } from "@erofs-ts/format";
import { PoolNudger } from "./pool-nudge.js";
import { checkRange, type BlockSource } from "./source.js";

export interface FileSourceOptions {
  /** Called once the file is open, with its descriptor (e.g. to give the kernel advice on it). */
  readonly afterOpen?: (fd: number) => void;
  /**
   * Called after every read with the file's descriptor and the range just read. A caller
   * that keeps what it reads in caches of its own can tell the kernel here that the
   * file's pages may go (posix_fadvise DONTNEED, which Node does not expose), so the same
   * bytes are not held twice. A throw from either hook is ignored: they only give advice.
   */
  readonly afterRead?: (fd: number, position: number, length: number) => void;
  /**
   * Read with pread on the calling thread instead of the thread pool. For a reader that
   * does one thing at a time (a command-line tool): measured on the benchmark VM, handing
   * a read to the pool cost the calling thread 12–120 µs a call, and reading app-a's
   * images whole (cold, the kernel's own readahead fetching ahead) took 15–20% less time
   * without it. Not for a server of concurrent requests: a read that misses the OS page
   * cache then stalls all of them.
   */
  readonly syncReads?: boolean;
}

/**
 * An image file or block device read with positional reads (pread on the libuv thread
 * pool), so concurrent readers never wait on each other's seek position.
 */
export class FileSource implements BlockSource {
  readonly name: string;
  readonly size: number;
  readonly #handle: FileHandle;
  readonly #afterRead: FileSourceOptions["afterRead"];
  readonly #sync: boolean;
  #closed = false;

  private constructor(handle: FileHandle, name: string, size: number, options: FileSourceOptions) {
    this.#handle = handle;
    this.name = name;
    this.size = size;
    this.#afterRead = options.afterRead;
    this.#sync = options.syncReads === true;
  }

  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    let handle: FileHandle;
    try {
      // Non-blocking, so that a fifo is refused below instead of waiting for a writer for
      // ever; for files and block devices the flag changes nothing (open(2)).
      handle = await nudger.track(open(path, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch (e) {
      throw openFailure(e, path);
    }
    try {
      const st = await nudger.track(handle.stat());
      let size = st.size;
      if (st.isBlockDevice()) size = await blockDeviceSize(handle);
      else if (!st.isFile()) throw new ErofsError("EINVAL", "not a file or block device", path);
      const source = new FileSource(handle, path, size, options);
      try {
        options.afterOpen?.(handle.fd);
      } catch {
        // Advice only.
      }
      return source;
    } catch (e) {
      await nudger.track(handle.close());
      throw e;
    }
  }

  async read(target: Uint8Array, position: number): Promise<void> {
    checkRange(this, position, target.length);
    let done = 0;
    while (done < target.length) {
      // Once closed, the descriptor number may belong to another file: never read through it.
      if (this.#closed) throw new ErofsError("EIO", `read of ${this.name} after close`, this.name);
      const bytesRead = await this.#pread(target, done, position + done);
      if (bytesRead === 0) {
        throw new ErofsError("EIO", `short read at ${position + done} of ${this.name}`, this.name);
      }
      done += bytesRead;
    }
    if (this.#afterRead && !this.#closed) {
      try {
        this.#afterRead(this.#handle.fd, position, target.length);
      } catch {
        // Advice only: the read itself succeeded.
      }
    }
  }

  /** One pread into target[offset..], as the source reads (see syncReads); an I/O error is EIO. */
  async #pread(target: Uint8Array, offset: number, position: number): Promise<number> {
    const fd = this.#handle.fd;
    const length = target.length - offset;
    try {
      return this.#sync ? readSync(fd, target, offset, length, position) : await pread(fd, target, offset, length, position);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new ErofsError("EIO", `read error at ${position} of ${this.name}: ${code}`, this.name, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await nudger.track(this.#handle.close());
  }
}

/**
 * One pread through fs.read's callback form. FileHandle.read does the same on the thread
 * pool with more bookkeeping around it: measured here, 256 KiB reads of a cached image took
 * ~115 µs each through it against ~68 µs, and cold ones cost the calling thread 40–190 µs
 * against 17–35 µs.
 */
function pread(fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  // A synchronous throw (bad arguments) rejects the inner promise before anything is queued.
  return nudger.track(
    new Promise((resolve, reject) => {
      readCallback(fd, target, offset, length, position, (err, bytesRead) => {
        if (err) reject(err);
        else resolve(bytesRead);
      });
    }),
  );
}

/** Queues a stat of "/" when a read waits too long: see pool-nudge.ts. */
const nudger = new PoolNudger(() => statCallback("/", () => {}), {
  now: () => performance.now(),
  setInterval: (run, ms) => setInterval(run, ms),
  clearInterval: (timer) => clearInterval(timer as ReturnType<typeof setInterval>),
});

/** Block devices report size 0 in stat; the end offset is found by reading near it. */
async function blockDeviceSize(handle: FileHandle): Promise<number> {
  // Binary search for the last readable byte: no ioctl from Node, and it costs ~40 reads.
  const probe = new Uint8Array(1);
  let lo = 0;
  let hi = 2 ** 50;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    const { bytesRead } = await nudger.track(handle.read(probe, 0, 1, mid - 1));
    if (bytesRead === 1) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Why an image could not be opened, in the host's words: "no such file" and "permission
 * denied" as the commands print them, anything else (EPERM from a device cgroup, ENOTDIR,
 * ELOOP, EMFILE) as its text and code rather than the code alone. The error keeps the
 * host's errno where it has one of its own (a FUSE daemon or a caller may act on it).
 */
function openFailure(e: unknown, path: string): ErofsError {
  const code = (e as NodeJS.ErrnoException).code;
  const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : `cannot open: ${systemErrorReason(e)}`;
  const known = code !== undefined && Object.hasOwn(ERRNO, code) ? (code as ErofsErrorCode) : "EIO";
  return new ErofsError(known, reason, path, { cause: e });
}
