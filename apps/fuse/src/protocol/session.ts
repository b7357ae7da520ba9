import { read as fsRead, readSync, writeSync, writevSync } from "node:fs";
import { devicePoller, type ReaderKind } from "./device.js";
import { ERRNO, NO_REPLY_OPS, OP, opName } from "./opcodes.js";
import { OUT_HEADER_SIZE, args, parseRequest, type Request } from "./structs.js";
import { BlockSlicer } from "./block-slicer.js";

/**
 * What a handler returns: reply payload parts (an OK reply, possibly empty), a positive
 * errno (an error reply), or `null` when the request takes no reply (FORGET).
 */
export type Outcome = Uint8Array[] | number | null;

export type Handler = (req: Request) => Promise<Outcome> | Outcome;

export interface SessionOptions {
  /** How the device was opened (`openFuseDevice`): polled and non-blocking, or blocking. */
  readonly reader: ReaderKind;
  /** Thread-pool reader: reads of /dev/fuse kept outstanding, so requests arrive while others run. */
  readonly readers: number;
  /** Poll reader: how long to look for the next request once idle, before sleeping (µs). */
  readonly spinMicros?: number;
  /** Bytes per read buffer: at least the largest request (8 KiB minimum, write payloads). */
  readonly bufferSize: number;
  /** `-d`: one line per request and reply. */
  readonly log: ((line: string) => void) | null;
  /** A short description of a request's arguments for the debug log. */
  readonly describe?: (req: Request) => string;
  /** Called with a reply's payload parts once they are written (or dropped): the handler may reuse them. */
  readonly onReplied?: (parts: readonly Uint8Array[]) => void;
}

/**
 * One FUSE connection: reads requests, hands each to the handler without waiting for
 * earlier ones, and writes replies as they complete. Two ways to read:
 * - `poll`: the native poller wakes the event loop when a request waits, and the loop
 *   reads it with a non-blocking read: one thread wake-up per request.
 * - `thread-pool`: `readers` blocking reads stay outstanding on libuv's thread pool (a
 *   blocking read of a character device has no other asynchronous form in Node), so the
 *   pool must be larger than the number of readers. Each request then wakes a pool
 *   thread, the loop, and another pool thread for the next read.
 *
 * Debug log legend: `rx UNIQUE: OPCODE nNODEID {args}` for a request,
 * `tx UNIQUE: OK, Nb` or `tx UNIQUE: ERRNAME` for its reply.
 */
export class FuseSession {
  readonly #fd: number;
  readonly #options: SessionOptions;
  readonly #header = new Uint8Array(OUT_HEADER_SIZE);
  readonly #headerView = new DataView(this.#header.buffer);
  /** Where each request is copied out of the read buffer (see BlockSlicer). */
  readonly #requestCopies = new BlockSlicer();
  #handler: Handler | null = null;
  /** Requests being served, so an INTERRUPT can find its target. */
  readonly #inFlight = new Map<bigint, { interrupted: boolean }>();
  #liveReaders = 0;
  #watcher: { close(): void } | null = null;
  #closed = false;
  #resolveClosed!: (reason: string) => void;
  /** Settles when the connection ends (unmounted, aborted or destroyed), with the reason. */
  readonly closed: Promise<string>;

  constructor(fd: number, options: SessionOptions) {
    this.#fd = fd;
    this.#options = options;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  get fd(): number {
    return this.#fd;
  }

  get reader(): ReaderKind {
    return this.#options.reader;
  }

  start(handler: Handler): void {
    this.#handler = handler;
    if (this.#options.reader === "poll") return this.#poll();
    for (let i = 0; i < this.#options.readers; i++) {
      this.#liveReaders++;
      this.#readNext(new Uint8Array(this.#options.bufferSize));
    }
  }

  #readNext(buffer: Uint8Array): void {
    if (this.#closed) return this.#readerDone("closed");
    fsRead(this.#fd, buffer, 0, buffer.length, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Interrupted or withdrawn requests: read again.
        if (code === "EINTR" || code === "EAGAIN" || code === "ENOENT") return this.#readNext(buffer);
        // ENODEV: unmounted or aborted; anything else ends this connection too.
        return this.#readerDone(code === "ENODEV" ? "unmounted" : `read failed: ${err.message}`);
      }
      if (n === 0) return this.#readerDone("end of device");
      // Copy the request out so the buffer can go straight back to the kernel.
      const bytes = this.#copyOut(buffer, n);
      this.#readNext(buffer);
      this.#dispatch(bytes);
    });
  }

  /**
   * One read per wake-up: epoll is level-triggered, so requests still queued wake the
   * loop again at once, and no read is made just to learn that the queue is empty.
   */
  #poll(): void {
    const poller = devicePoller();
    if (!poller) throw new Error("the poll reader needs the native poller (build/erofs-fuse-native.node)");
    const buffer = new Uint8Array(this.#options.bufferSize);
    this.#watcher = poller.watch(
      this.#fd,
      (status) => this.#readOne(buffer, status),
      () => this.#inFlight.size === 0,
      this.#options.spinMicros ?? 0,
    );
  }

  #readOne(buffer: Uint8Array, status: number): void {
    let n: number;
    try {
      n = readSync(this.#fd, buffer, 0, buffer.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Nothing there after all (withdrawn by an interrupt): wait for the next wake-up.
      if (status >= 0 && (code === "EAGAIN" || code === "EINTR" || code === "ENOENT")) return;
      return this.#finish(code === "ENODEV" ? "unmounted" : `read failed: ${(err as Error).message}`);
    }
    if (n === 0) return this.#finish("end of device");
    this.#dispatch(this.#copyOut(buffer, n));
    // libuv stops a handle that reported an error: nothing would wake this reader again.
    if (status < 0) this.#finish(`device poll failed (libuv error ${status})`);
  }

  /** The request's `n` bytes, copied out of the buffer the next read reuses. */
  #copyOut(buffer: Uint8Array, n: number): Uint8Array {
    const copy = this.#requestCopies.take(n);
    copy.set(buffer.subarray(0, n));
    return copy;
  }

  #readerDone(reason: string): void {
    this.#liveReaders--;
    this.#finish(reason);
  }

  /** Marks the session over (the first reason wins) and stops polling the device. */
  #finish(reason: string): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (!this.#closed) {
      this.#closed = true;
      this.#resolveClosed(reason);
    }
  }

  #dispatch(bytes: Uint8Array): void {
    let req: Request;
    try {
      req = parseRequest(bytes, bytes.length);
    } catch (e) {
      this.#options.log?.(`rx ?: malformed request (${(e as Error).message})`);
      // Answer it if its unique can be read: an unanswered request blocks its caller forever.
      if (bytes.length >= 16) this.#reply(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8, true), ERRNO.EIO);
      return;
    }
    const { unique, opcode } = req.header;
    const log = this.#options.log;
    if (log) {
      const detail = this.#options.describe?.(req) ?? "";
      log(`rx ${unique}: ${opName(opcode)} n${req.header.nodeid}${detail ? ` ${detail}` : ""}`);
    }
    if (opcode === OP.INTERRUPT) return this.#interrupt(req);
    const state = { interrupted: false };
    this.#inFlight.set(unique, state);
    const settle = (outcome: Outcome): void => {
      this.#inFlight.delete(unique);
      if (!state.interrupted && !NO_REPLY_OPS.has(opcode) && outcome !== null) this.#reply(unique, outcome);
      if (Array.isArray(outcome)) this.#options.onReplied?.(outcome);
      if (opcode === OP.DESTROY) this.#finish("destroyed");
    };
    let result: Promise<Outcome> | Outcome;
    try {
      result = this.#handler!(req);
    } catch (e) {
      this.#options.log?.(`   ${unique}: handler threw: ${(e as Error).message}`);
      return settle(ERRNO.EIO);
    }
    if (result instanceof Promise) {
      result.then(settle, (e: unknown) => {
        this.#options.log?.(`   ${unique}: handler failed: ${(e as Error).message}`);
        settle(ERRNO.EIO);
      });
    } else {
      settle(result);
    }
  }

  /**
   * INTERRUPT: the target's caller was signalled. A request still being served is answered
   * EINTR now and its late result dropped; an unknown target may not have been read yet,
   * so the kernel is told to send the interrupt again (EAGAIN), as the protocol asks.
   */
  #interrupt(req: Request): void {
    if (req.body.byteLength < 8) return;
    const target = args.u64(req.body, 0);
    const state = this.#inFlight.get(target);
    if (state) {
      state.interrupted = true;
      this.#inFlight.delete(target);
      this.#reply(target, ERRNO.EINTR);
    } else {
      this.#reply(req.header.unique, ERRNO.EAGAIN);
    }
  }

  #reply(unique: bigint, outcome: Uint8Array[] | number): void {
    const parts = typeof outcome === "number" ? [] : outcome;
    let len = OUT_HEADER_SIZE;
    for (const p of parts) len += p.length;
    // One header for every reply: the write below is synchronous and the kernel copies it.
    const v = this.#headerView;
    v.setUint32(0, len, true);
    v.setInt32(4, typeof outcome === "number" ? -outcome : 0, true);
    v.setBigUint64(8, unique, true);
    const log = this.#options.log;
    if (log) log(`tx ${unique}: ${typeof outcome === "number" ? errnoName(outcome) : `OK, ${len - OUT_HEADER_SIZE}b`}`);
    try {
      // Writing a reply never blocks: the kernel copies it and completes the request.
      if (parts.length === 0) writeSync(this.#fd, this.#header);
      else writevSync(this.#fd, [this.#header, ...parts]);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOENT: the request was aborted or already answered (interrupt race): nothing to do.
      if (code === "ENOENT") return;
      if (code === "ENODEV") return this.#finish("unmounted");
      this.#options.log?.(`   ${unique}: reply failed: ${(e as Error).message}`);
    }
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, value]) => [value, name]));

function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}
