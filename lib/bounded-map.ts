/** Maps kept in insertion (or recency) order, held to a bound by forgetting the oldest entries. */

/** Delete the oldest entries of `map` until it holds at most `max`. */
export function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}
