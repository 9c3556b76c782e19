/**
 * RFC 3264 section 8: within a dialog, every SDP a party sends carries the same o= line as its
 * first, its version one higher each time the description changes. Once FreeSWITCH's SDP reached
 * the caller (in the 183 and the 200), the phone's SDP may only reach the caller under that
 * origin. Pure.
 */

const ORIGIN = /^o=(\S+) (\S+) (\d+) (IN IP[46] \S+)(?=\r?$)/m;

export class SdpOrigin {
  private lastBody: string | undefined;

  private constructor(
    private readonly username: string,
    private readonly sessionId: string,
    private version: bigint,
    private readonly address: string,
  ) {}

  /** The origin of an SDP body, or undefined when it has no valid o= line. */
  static of(sdp: string): SdpOrigin | undefined {
    const m = ORIGIN.exec(sdp);
    if (!m) return undefined;
    const origin = new SdpOrigin(m[1] ?? '-', m[2] ?? '0', BigInt(m[3] ?? '0'), m[4] ?? 'IN IP4 0.0.0.0');
    origin.lastBody = withoutOrigin(sdp);
    return origin;
  }

  /**
   * `sdp` as this party's next description: its o= line replaced by this origin, the version one
   * up when the description differs from the last one stamped (the same description re-sent keeps
   * its version). An SDP without an o= line is returned as it is.
   */
  stamp(sdp: string): string {
    if (!ORIGIN.test(sdp)) return sdp;
    const body = withoutOrigin(sdp);
    if (body !== this.lastBody) {
      this.version += 1n;
      this.lastBody = body;
    }
    return sdp.replace(ORIGIN, `o=${this.username} ${this.sessionId} ${this.version} ${this.address}`);
  }
}

function withoutOrigin(sdp: string): string {
  return sdp.replace(ORIGIN, '').replace(/\r\n/g, '\n');
}

/**
 * Where an SDP sends media: the connection address and port of each media section, and its
 * payload types. Two descriptions with the same target need no new offer to the other side.
 */
export function mediaTarget(sdp: string): string {
  const lines = sdp.split(/\r?\n/);
  let sessionC = '';
  let currentC: string | undefined;
  const out: string[] = [];
  let media: string | undefined;
  const flush = (): void => {
    if (media !== undefined) out.push(`${currentC ?? sessionC} ${media}`);
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flush();
      media = line.slice(2).trim();
      currentC = undefined;
    } else if (line.startsWith('c=')) {
      if (media === undefined) sessionC = line.slice(2).trim();
      else currentC = line.slice(2).trim();
    }
  }
  flush();
  return out.join('\n');
}
