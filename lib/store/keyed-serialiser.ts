/**
 * Runs tasks that share a key one after another, and tasks of different keys in parallel.
 *
 * The embedded store's read-modify-write operations (clear a token only if it still matches,
 * take notices and delete them, claim a push once) are not atomic in LevelDB. LevelDB allows a
 * single process per directory, so serialising per key inside this process is enough to make
 * them atomic. The map holds one entry per key that has work queued, and drops it when the
 * queue empties, so it is bounded by the number of operations in flight.
 */
export class KeyedSerialiser {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    // The tail never rejects: one failed task must not poison the next ones on the same key.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with queued work; exposed so tests can check the map empties. */
  get pendingKeys(): number {
    return this.#tails.size;
  }

  /** Resolves once every task queued so far has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
