import dgram from 'node:dgram';
import net from 'node:net';
import type { TransportName } from './types.js';

export interface ListenSpec {
  address: string;
  port: number;
  transports: TransportName[];
}

export interface BoundListener {
  transport: TransportName;
  address: string;
  port: number;
  udp?: dgram.Socket;
  tcp?: net.Server;
}

function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function listenTcp(address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Binds UDP first, then TCP on the same port number. With port 0 the kernel picks the UDP
 * port and TCP may find it taken: then both are released and we try again.
 */
export async function bindListeners(spec: ListenSpec, attempts = 10): Promise<BoundListener[]> {
  const wantUdp = spec.transports.includes('udp');
  const wantTcp = spec.transports.includes('tcp');
  for (let i = 0; i < attempts; i++) {
    const udp = wantUdp ? await bindUdp(spec.address, spec.port) : undefined;
    const port = udp ? udp.address().port : spec.port;
    try {
      const tcp = wantTcp ? await listenTcp(spec.address, port) : undefined;
      const tcpPort = tcp ? (tcp.address() as net.AddressInfo).port : port;
      const out: BoundListener[] = [];
      if (udp) out.push({ transport: 'udp', address: spec.address, port, udp });
      if (tcp) out.push({ transport: 'tcp', address: spec.address, port: tcpPort, tcp });
      return out;
    } catch (err) {
      udp?.close();
      if (spec.port !== 0) throw err;
    }
  }
  throw new Error(`could not bind udp and tcp on one port at ${spec.address}`);
}
