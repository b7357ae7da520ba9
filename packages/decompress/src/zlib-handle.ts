import type { Transform } from "node:stream";

/**
 * The part of a node:zlib stream a decoder can drive one call at a time: its native
 * handle's writeSync(flush, in, inOff, inLen, out, outOff, outLen), and the two counts it
 * leaves behind in the stream's write state (output space left, input left). Node's own
 * *Sync functions drive their streams so, but make a new stream and a new output per
 * call; a decoder that keeps one stream and writes into its caller's buffer does neither.
 */
export interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

export interface DrivenStream {
  readonly handle: ZlibHandle;
  /** [output space left, input left] after the last writeSync. */
  readonly state: Uint32Array;
}

/**
 * The handle and write state of a freshly made zlib stream, or null (the stream then
 * destroyed) when this Node's streams are not shaped so: these are not a documented
 * interface, so callers keep a documented way for that case. The stream's errors are
 * taken as they happen (it is destroyed, which a caller sees after writeSync), so the
 * later `error` event is dropped.
 */
export function drive(stream: Transform): DrivenStream | null {
  stream.on("error", () => {});
  const internals = stream as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
  const handle = internals._handle;
  const state = internals._writeState;
  if (typeof handle?.writeSync !== "function" || !(state instanceof Uint32Array) || state.length < 2) {
    stream.destroy();
    return null;
  }
  return { handle: handle as ZlibHandle, state };
}
