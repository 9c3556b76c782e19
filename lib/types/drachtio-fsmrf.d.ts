/**
 * The part of drachtio-fsmrf (4.x, no types of its own) that pushwake and its tests use: connect
 * to FreeSWITCH's event socket, create an endpoint (an INVITE through the app's drachtio-srf to
 * FreeSWITCH's drachtio_mrf profile), play to it, and release it.
 */
declare module 'drachtio-fsmrf' {
  import type { EventEmitter } from 'node:events';

  namespace Mrf {
    interface ConnectOptions {
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

    interface Endpoint extends EventEmitter {
      readonly uuid: string;
      readonly local: { sdp: string };
      readonly remote: { sdp: string };
      /** the SIP dialog between the app and FreeSWITCH (null once released) */
      readonly dialog: { destroy(): Promise<unknown>; readonly connected?: boolean } | null;
      play(file: string | string[]): Promise<unknown>;
      /** run a dialplan application; resolves when it completes (never, if the channel vanishes) */
      execute(app: string, arg?: string): Promise<unknown>;
      api(command: string, args?: string | string[]): Promise<unknown>;
      modify(remoteSdp: string): Promise<void>;
      bridge(other: Endpoint | string): Promise<void>;
      destroy(): Promise<void>;
    }

    interface MediaServer extends EventEmitter {
      readonly sip: { ipv4: { udp: { address?: string } } };
      createEndpoint(opts?: { remoteSdp?: string; headers?: Record<string, string> }): Promise<Endpoint>;
      api(command: string): Promise<string>;
      /** the inbound event socket is up */
      connected(): boolean;
      disconnect(): void;
    }
  }

  class Mrf {
    constructor(srf: unknown, opts?: { debugDir?: string });
    connect(opts: Mrf.ConnectOptions): Promise<Mrf.MediaServer>;
  }

  export = Mrf;
}
