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
  while (map.size > max) dropOldest(map);
}

/**
 * Each cache's walk in insertion order, kept from one eviction to the next. A fresh
 * `map.keys().next()` per eviction is not O(1): V8 leaves a deleted entry as a hole in
 * the table until it is rebuilt, and a new iterator steps over every hole before the
 * first live key. Evicting from the front lays the holes exactly there, so each eviction
 * cost more the fuller the cache: 4.5 µs at 16,384 entries and 13 µs at 65,536 in a
 * micro-benchmark, and 148 ms of a 1.8 s read of a 46,000-file image went to the
 * compressed-inode map's evictions alone. A walk kept alive steps over each hole once.
 *
 * It still yields the oldest key: every key before its position was yielded and then
 * deleted (keys are only ever added, or moved by lruGet, at the end), and a Map
 * iterator follows the map through deletions, rebuilds and clear().
 */
const walks = new WeakMap<Map<unknown, unknown>, Iterator<unknown>>();

function dropOldest<K, V>(map: Map<K, V>): void {
  let walk = walks.get(map) as Iterator<K> | undefined;
  for (;;) {
    if (!walk) {
      walk = map.keys();
      walks.set(map, walk);
    }
    const next = walk.next();
    if (!next.done) {
      map.delete(next.value);
      return;
    }
    // At the end of the keys it had: a map that is over its size has newer ones.
    walk = undefined;
  }
}
