import type { AppConnection } from './app-connection.js';

/** Which connected apps asked for which request methods; round-robin among them like drachtio. */
export class RouteTable {
  private readonly routes = new Map<string, AppConnection[]>();
  private readonly offsets = new Map<string, number>();

  add(verb: string, conn: AppConnection): void {
    const key = verb.toLowerCase();
    const list = this.routes.get(key) ?? [];
    if (!list.includes(conn)) list.push(conn);
    this.routes.set(key, list);
  }

  /** drachtio removes every route this client holds, whatever verb is named. */
  removeAll(conn: AppConnection): void {
    for (const [verb, list] of this.routes) {
      const kept = list.filter((c) => c !== conn);
      if (kept.length) this.routes.set(verb, kept);
      else this.routes.delete(verb);
    }
  }

  /** Methods some connected app takes, upper-case (for an Allow header). */
  methods(): string[] {
    return [...this.routes].filter(([, list]) => list.some((c) => c.isOpen && c.authenticated)).map(([verb]) => verb.toUpperCase());
  }

  select(method: string): AppConnection | undefined {
    const key = method.toLowerCase();
    const list = (this.routes.get(key) ?? []).filter((c) => c.isOpen && c.authenticated);
    if (!list.length) return undefined;
    const i = (this.offsets.get(key) ?? 0) % list.length;
    this.offsets.set(key, i + 1);
    return list[i];
  }
}
