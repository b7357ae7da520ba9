import { Rng } from "./prng.js";

/**
 * The rng of one seed, and the image it mutates: the first draw picks the image, so main
 * thread and worker agree on it without the worker having to say.
 */
export function planSeed(seed: number, targets: number): { rng: Rng; target: number } {
  const rng = new Rng(seed);
  return { rng, target: rng.below(targets) };
}
