/**
 * The part of drachtio-fsmrf (4.x, no types of its own) that FreeswitchMedia uses, as pushwake's
 * own types: they are part of the published declarations, which cannot name an untyped module.
 */
export interface FsmrfConnectOptions {
  /** FreeSWITCH's event socket */
  address: string;
  port?: number;
  secret?: string;
  /** where FreeSWITCH connects back for each endpoint (outbound event socket) */
  listenAddress?: string;
  listenPort?: number;
  /** what FreeSWITCH is told to connect back to, when not listenAddress:listenPort */
  advertisedAddress?: string;
  advertisedPort?: number;
  /** FreeSWITCH's sofia profile the endpoints are created on (default drachtio_mrf) */
  profile?: string;
}

export interface FsmrfEndpoint {
  readonly uuid: string;
  readonly local: { sdp: string };
  /** the SIP dialog between the app and FreeSWITCH (null once released) */
  readonly dialog: { destroy(): Promise<unknown>; readonly connected?: boolean } | null;
  /** run a dialplan application; resolves when it completes (never, if the channel vanishes) */
  execute(app: string, arg?: string): Promise<unknown>;
  api(command: string, args?: string | string[]): Promise<unknown>;
  /** play files or tones (drachtio-fsmrf's `playback` wrapper); resolves when done */
  play(file: string | string[]): Promise<unknown>;
  /** bridge this channel to another endpoint's in FreeSWITCH */
  bridge(other: FsmrfEndpoint): Promise<unknown>;
  destroy(): Promise<void>;
  on(event: 'destroy', fn: () => void): unknown;
}

export interface FsmrfMediaServer {
  readonly sip: { ipv4: { udp: { address?: string } } };
  createEndpoint(opts?: { remoteSdp?: string; headers?: Record<string, string> }): Promise<FsmrfEndpoint>;
  /** an API command over the inbound event socket; resolves with its reply body */
  api(command: string): Promise<string>;
  /** the inbound event socket is up */
  connected(): boolean;
  disconnect(): void;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
}

/** drachtio-fsmrf's Mrf, as far as it is called (a fake in tests). */
export interface MrfConnector {
  connect(opts: FsmrfConnectOptions): Promise<FsmrfMediaServer>;
}
