/**
 * drachtio-fsmrf (4.x) has no types of its own. Its Mrf, typed with pushwake's own view of what it
 * returns (lib/media/fsmrf.ts, which the published declarations can name).
 */
declare module 'drachtio-fsmrf' {
  class Mrf {
    constructor(srf: unknown, opts?: { debugDir?: string });
    connect(opts: import('../media/fsmrf.js').FsmrfConnectOptions): Promise<import('../media/fsmrf.js').FsmrfMediaServer>;
  }

  export = Mrf;
}
