/**
 * Worker side of the decode pool (decode-pool.ts): decodes one pcluster per message with
 * the same decoders as the main thread and hands the bytes back (transferred, not copied).
 */
import { parentPort } from "node:worker_threads";
import { createDecompressor, type Decompressor } from "@erofs-ts/decompress";
import { ErofsError } from "@erofs-ts/format";
import type { DecodeJob, DecodeReply } from "./decode-pool.js";

const decoders = new Map<string, Decompressor>();

parentPort!.on("message", (job: DecodeJob) => {
  void run(job).then((reply) => parentPort!.postMessage(reply, reply.out ? [reply.out.buffer as ArrayBuffer] : []));
});

async function run(job: DecodeJob): Promise<DecodeReply> {
  try {
    const key = `${job.algorithm}:${job.configKey}`;
    let dec = decoders.get(key);
    if (!dec) decoders.set(key, (dec = createDecompressor(job.algorithm, job.config)));
    const out = new Uint8Array(job.outLength);
    await dec.decode(job.input, out, job.partial);
    return { id: job.id, out };
  } catch (e) {
    if (ErofsError.isInstance(e)) return { id: job.id, error: { code: e.code, message: e.message, where: e.where } };
    return { id: job.id, error: { code: "EIO", message: String((e as Error)?.message ?? e) } };
  }
}
