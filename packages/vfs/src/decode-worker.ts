/**
 * Worker side of the decode pool (decode-pool.ts): helps with one fill at a time, taking
 * jobs from the counter it shares with the main thread until none are left, with the same
 * decoders as the main thread, and hands each result back as it is done (transferred, not
 * copied).
 */
import { parentPort } from "node:worker_threads";
import { createDecompressor, type Decompressor } from "@erofs-ts/decompress";
import { ErofsError } from "@erofs-ts/format";
import type { ShareReply, ShareRequest } from "./decode-pool.js";

const decoders = new Map<string, Decompressor>();

parentPort!.on("message", (request: ShareRequest) => void help(request));

async function help(request: ShareRequest): Promise<void> {
  const next = new Int32Array(request.claim);
  const n = request.inputs.length;
  for (let i = Atomics.add(next, 0, 1); i < n; i = Atomics.add(next, 0, 1)) {
    const reply = await decode(request, i);
    parentPort!.postMessage(reply, reply.out ? [reply.out.buffer as ArrayBuffer] : []);
  }
  parentPort!.postMessage({ id: request.id, done: true } satisfies ShareReply);
}

async function decode(request: ShareRequest, index: number): Promise<ShareReply> {
  const { id } = request;
  try {
    const key = `${request.algorithm}:${request.configKey}`;
    let dec = decoders.get(key);
    if (!dec) decoders.set(key, (dec = createDecompressor(request.algorithm, request.config)));
    const out = new Uint8Array(request.outLengths[index]!);
    await dec.decode(request.inputs[index]!, out, request.partials[index]!);
    return { id, index, out };
  } catch (e) {
    if (ErofsError.isInstance(e)) return { id, index, error: { code: e.code, message: e.message, where: e.where } };
    return { id, index, error: { code: "EIO", message: String((e as Error)?.message ?? e) } };
  }
}
