import dgram from 'node:dgram';
import net from 'node:net';
import type { TransportName } from './types.js';

export interface ListenSpec {
  address: string;
  /** UDP and TCP share this port number */
  port: number;
  transports: TransportName[];
  /** TLS listens on its own port (RFC 3261 26.2: 5061 by default; 0 = ephemeral) */
  tlsPort?: number;
}

export interface BoundListener {
  transport: TransportName;
  address: string;
  port: number;
  udp?: dgram.Socket;
  /** TCP and TLS both accept raw connections; TLS is layered on by the transport */
  stream?: net.Server;
}

export const DEFAULT_TLS_PORT = 5061;

function bindUdp(address: string, port: number, receiveBufferBytes: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4', recvBufferSize: receiveBufferBytes });
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function listenStream(address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // backlog sized for a burst of phones reconnecting at once (the kernel caps it at somaxconn)
    const server = net.createServer({ noDelay: true });
    server.once('error', reject);
    server.listen({ port, host: address, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeAll(bound: BoundListener[]): void {
  for (const l of bound) {
    l.udp?.close();
    l.stream?.close();
  }
}

/**
 * Binds UDP first, then TCP on the same port number, then TLS on its own port. With port 0 the
 * kernel picks the UDP port and TCP may find it taken: then all are released and we try again.
 */
export async function bindListeners(spec: ListenSpec, receiveBufferBytes: number, attempts = 10): Promise<BoundListener[]> {
  const wantUdp = spec.transports.includes('udp');
  const wantTcp = spec.transports.includes('tcp');
  const wantTls = spec.transports.includes('tls');
  for (let i = 0; i < attempts; i++) {
    const out: BoundListener[] = [];
    try {
      const udp = wantUdp ? await bindUdp(spec.address, spec.port, receiveBufferBytes) : undefined;
      const port = udp ? udp.address().port : spec.port;
      if (udp) out.push({ transport: 'udp', address: spec.address, port, udp });
      if (wantTcp) {
        const tcp = await listenStream(spec.address, port);
        out.push({ transport: 'tcp', address: spec.address, port: (tcp.address() as net.AddressInfo).port, stream: tcp });
      }
      if (wantTls) {
        const tls = await listenStream(spec.address, spec.tlsPort ?? DEFAULT_TLS_PORT);
        out.push({ transport: 'tls', address: spec.address, port: (tls.address() as net.AddressInfo).port, stream: tls });
      }
      return out;
    } catch (err) {
      closeAll(out);
      if (spec.port !== 0) throw err;
    }
  }
  throw new Error(`could not bind udp and tcp on one port at ${spec.address}`);
}
