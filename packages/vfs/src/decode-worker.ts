/**
 * Worker side of the decode pool (decode-pool.ts): helps with one fill at a time, taking
 * jobs from the counter it shares with the main thread until none are left, with the same
 * decoders as the main thread, and decodes each into the fill's shared arena, telling the
 * main thread as each is done.
 */
import { parentPort } from "node:worker_threads";
import { createDecompressor, type Decompressor } from "@erofs-ts/decompress";
import { ErofsError } from "@erofs-ts/format";
import type { ShareReply, ShareRequest } from "./decode-pool.js";

const decoders = new Map<string, Decompressor>();

parentPort!.on("message", (request: ShareRequest) => void help(request));

async function help(request: ShareRequest): Promise<void> {
  const next = new Int32Array(request.claim);
  const n = request.outLengths.length;
  for (let i = Atomics.add(next, 0, 1); i < n; i = Atomics.add(next, 0, 1)) {
    parentPort!.postMessage(await decode(request, i));
  }
  parentPort!.postMessage({ id: request.id, done: true } satisfies ShareReply);
}

async function decode(request: ShareRequest, index: number): Promise<ShareReply> {
  const { id } = request;
  try {
    const key = `${request.algorithm}:${request.configKey}`;
    let dec = decoders.get(key);
    if (!dec) decoders.set(key, (dec = createDecompressor(request.algorithm, request.config)));
    const input = new Uint8Array(request.arena, request.inputOffsets[index], request.inputLengths[index]);
    const out = new Uint8Array(request.arena, request.outOffsets[index], request.outLengths[index]);
    await dec.decode(input, out, request.partials[index]!);
    return { id, index };
  } catch (e) {
    if (ErofsError.isInstance(e)) return { id, index, error: { code: e.code, message: e.message, where: e.where } };
    return { id, index, error: { code: "EIO", message: String((e as Error)?.message ?? e) } };
  }
}
