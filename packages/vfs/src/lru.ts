/**
 * A Map used as a least-recently-used cache: Map keeps insertion order, so the first key
 * is the least recently used once every hit is moved to the end.
 */

/** The value for `key`, made the most recently used. */
export function lruGet<K, V>(map: Map<K, V>, key: K): V | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

/** Adds `key` as the most recently used, dropping the least recently used beyond `max`. */
export function lruSet<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}
