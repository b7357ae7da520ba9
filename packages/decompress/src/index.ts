import { unsupported } from "@erofs-ts/format";
import { decodeDeflate } from "./deflate.js";
import { decodeLz4 } from "./lz4.js";
import { decodeLz4Fast } from "./lz4-wasm.js";
import { decodeMicroLzma } from "./microlzma.js";
import { decodeMicroLzmaFast } from "./microlzma-wasm.js";
import { stripZeroPadding } from "./padding.js";
import { decodeZstd, decodeZstdWasm, isZstdPrefix, tryZstdNative, zstdPrefixReady, zstdReady } from "./zstd.js";
import { hasNativeZstd } from "./zstd-native.js";

/** The zstd decoders have loaded (or are known to be unavailable): decodes run at once. */
let zstdSettled = false;
let zstdPrefixSettled = false;

export const Z_EROFS_COMPRESSION_LZ4 = 0;
export const Z_EROFS_COMPRESSION_LZMA = 1;
export const Z_EROFS_COMPRESSION_DEFLATE = 2;
export const Z_EROFS_COMPRESSION_ZSTD = 3;

export interface DecompressorConfig {
  lzmaDictSize?: number;
  zstdWindowLog?: number;
  lz4MaxDistance?: number;
  /** The image has the 0padding feature (all images since Linux 5.4; required for non-lz4). */
  zeroPadding?: boolean;
  /** Block size: 0padding is looked for in the first block only. */
  blockSize?: number;
}

export interface Decompressor {
  readonly algorithm: number;
  readonly name: string;
  /**
   * Decodes `input` (a whole pcluster, padding included) into out[0..out.length). With
   * `partial`, the stream may be longer than `out`. Throws EFSCORRUPTED on bad input.
   */
  decode(input: Uint8Array, out: Uint8Array, partial: boolean): void | Promise<void>;
}

/** A decoder for algorithm `algorithm` (Z_EROFS_COMPRESSION_*) with the image's settings. */
export function createDecompressor(algorithm: number, config: DecompressorConfig = {}): Decompressor {
  const block = config.blockSize ?? 4096;
  const pad = config.zeroPadding ?? true;
  switch (algorithm) {
    case Z_EROFS_COMPRESSION_LZ4:
      return {
        algorithm,
        name: "lz4",
        // WebAssembly where available (~5× the JS decoder on the corpus), else decodeLz4.
        decode: (input, out, partial) => decodeLz4Fast(pad ? stripZeroPadding(input, block, "lz4") : input, out, partial || !pad),
      };
    case Z_EROFS_COMPRESSION_LZMA:
      return {
        algorithm,
        name: "lzma",
        decode: (input, out, partial) =>
          // WebAssembly where available (~1.4× the JS decoder on the corpus), else decodeMicroLzma.
          decodeMicroLzmaFast(stripZeroPadding(input, block, "lzma"), out, config.lzmaDictSize ?? 0, partial),
      };
    case Z_EROFS_COMPRESSION_DEFLATE:
      return {
        algorithm,
        name: "deflate",
        decode: (input, out, partial) =>
          decodeDeflate(stripZeroPadding(input, block, "deflate"), out, partial),
      };
    case Z_EROFS_COMPRESSION_ZSTD:
      return {
        algorithm,
        name: "zstd",
        // node:zlib where this Node has zstd (nothing to wait for). Else, and for frames it
        // leaves to them, the WebAssembly decoders: the first such decode waits for the
        // one-shot build to be instantiated, and the first prefix of a frame for the
        // streaming one.
        decode: (input, out, partial) => {
          const frame = stripZeroPadding(input, block, "zstd");
          if (tryZstdNative(frame, out, partial)) return;
          const run = () => decodeZstdWasm(frame, out, partial);
          const prefix = isZstdPrefix(frame, out.length, partial);
          if (zstdSettled && (zstdPrefixSettled || !prefix)) return run();
          return Promise.all([zstdReady(), prefix && zstdPrefixReady()]).then(() => {
            zstdSettled = true;
            zstdPrefixSettled ||= prefix;
            run();
          });
        },
      };
    default:
      throw unsupported(`compression algorithm ${algorithm}`);
  }
}

export { shortStreamLength } from "./errors.js";
export { decodeDeflate, decodeLz4, decodeLz4Fast, decodeMicroLzma, decodeMicroLzmaFast, decodeZstd, hasNativeZstd, stripZeroPadding, zstdPrefixReady, zstdReady };
