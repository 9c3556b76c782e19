/** Small pieces shared by the in-process deployments of the tests, the demo and the benchmarks. */

export type Cleanup = () => Promise<void> | void;

/** Run cleanups newest first; one failing must not leave the rest running. */
export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // Best effort, by design.
    }
  }
}

type Tree = Record<string, unknown>;

/** Merge config override trees: objects merge key by key, anything else (lists too) replaces. */
export function mergeTrees(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const base = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base && typeof base === 'object' && !Array.isArray(base) ? mergeTrees(base as Tree, v as Tree) : v;
  }
  return out;
}
