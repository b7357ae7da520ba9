/**
 * Worker side of the decode pool (decode-pool.ts): helps with one fill at a time, taking
 * jobs from the counter it shares with the main thread until none are left, with the same
 * decoders as the main thread, and decodes each into the fill's shared arena, telling the
 * main thread once it claims no more.
 */
import { parentPort } from "node:worker_threads";
import { createDecompressor, type Decompressor } from "@erofs-ts/decompress";
import { ErofsError } from "@erofs-ts/format";
import type { ShareFailure, ShareReply, ShareRequest } from "./decode-pool.js";

const decoders = new Map<string, Decompressor>();

parentPort!.on("message", (request: ShareRequest) => void help(request));

/**
 * Claims and decodes jobs until none are left, then answers once for the fill, naming
 * only the jobs that failed: an answer per pcluster cost both threads a structured clone
 * and an event-loop turn per pcluster (a 1 MiB fill of 4 KiB pclusters has 256).
 */
async function help(request: ShareRequest): Promise<void> {
  const next = new Int32Array(request.claim);
  const n = request.outLengths.length;
  const failed: ShareFailure[] = [];
  for (let i = Atomics.add(next, 0, 1); i < n; i = Atomics.add(next, 0, 1)) {
    const error = await decode(request, i);
    if (error) failed.push({ index: i, error });
  }
  parentPort!.postMessage({ id: request.id, failed } satisfies ShareReply);
}

/** Decodes job `index` into the arena; the error it met, as plain data, if any. */
async function decode(request: ShareRequest, index: number): Promise<ShareFailure["error"] | undefined> {
  try {
    const key = `${request.algorithm}:${request.configKey}`;
    let dec = decoders.get(key);
    if (!dec) decoders.set(key, (dec = createDecompressor(request.algorithm, request.config)));
    const input = new Uint8Array(request.arena, request.inputOffsets[index], request.inputLengths[index]);
    const out = new Uint8Array(request.arena, request.outOffsets[index], request.outLengths[index]);
    await dec.decode(input, out, request.partials[index]!);
    return undefined;
  } catch (e) {
    if (ErofsError.isInstance(e)) return { code: e.code, reason: e.reason, where: e.where };
    return { code: "EIO", reason: String((e as Error)?.message ?? e) };
  }
}
