import { bad } from "./errors.js";

/**
 * Compressed pclusters are stored at the end of their blocks with zero bytes in front
 * ("0padding"). Like the kernel, the padding is only looked for within the first block
 * (`blockSize`); a first block of nothing but zeros is corruption.
 */
export function stripZeroPadding(input: Uint8Array, blockSize: number, codec: string): Uint8Array {
  const limit = Math.min(input.length, blockSize);
  let i = 0;
  while (i < limit && input[i] === 0) i++;
  if (i === limit) throw bad(codec, "pcluster holds only padding");
  return input.subarray(i);
}
