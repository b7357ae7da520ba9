/**
 * A deterministic pseudo-random generator (xorshift32): the same sequence for the same
 * seed, so a test that draws from it makes the same cases on every run, and a failure
 * repeats. Each call gives the next unsigned 32-bit value.
 */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
