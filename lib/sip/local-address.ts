/**
 * Where pushwake is reached, as it tells others: the host:port and transport of the Contact it
 * registers upstream (and the From of ended notices), and every address that is pushwake itself.
 * With the embedded engine all of it is known at start; with an external drachtio-server only
 * once connected, when `learn` fills in what the config left empty. One holder, read at each use.
 */
import { hostPort } from '../net-address.js';

export type SipTransportName = 'udp' | 'tcp' | 'tls';

export interface Listener {
  transport: SipTransportName;
  address: string;
  port: number;
}

export class LocalAddress {
  private hostValue: string;
  private transportValue: SipTransportName;
  private readonly self: string[];

  /**
   * `configured` is `sip.advertisedHost`/`sip.advertisedTransport` ('' for "work it out");
   * `listeners` what the embedded engine listens on (none with an external engine); `fallback`
   * the first configured listen address, for when there are none yet.
   */
  constructor(private readonly configured: { host: string; transport: SipTransportName | '' }, listeners: Listener[], fallback?: { address: string; port: number }) {
    this.transportValue = configured.transport || preferredTransport(listeners);
    const first = listeners.find((l) => l.transport === this.transportValue) ?? fallback;
    this.hostValue = configured.host || (first ? hostPort(first.address, first.port) : '127.0.0.1');
    this.self = [this.hostValue, ...listeners.map((l) => hostPort(l.address, l.port))];
  }

  get host(): string {
    return this.hostValue;
  }

  get transport(): SipTransportName {
    return this.transportValue;
  }

  /** host:port pairs that are pushwake itself (a REGISTER naming one is relayed to the registrar). */
  get selfAddresses(): readonly string[] {
    return this.self;
  }

  /**
   * What an external drachtio-server said it listens on (`udp/h:p,tcp/h:p,…`) after connecting.
   * False when it has no listener for the configured transport (the host then stays as configured
   * or as the fallback: the caller should say so).
   */
  learn(hostports: string): boolean {
    const announced = advertisedFromHostport(hostports, this.configured.transport || undefined);
    if (announced && !this.configured.transport) this.transportValue = announced.transport;
    if (announced && !this.configured.host) this.hostValue = announced.hostport;
    this.self.push(...[...hostports.matchAll(/(?:udp|tcp|tls|wss?)\/([^,\s]+)/gi)].map((m) => m[1] ?? '').filter(Boolean));
    return announced !== undefined || this.configured.host !== '';
  }
}

/** What the PBX is told to use by default: UDP when listened on, else TCP, else TLS. Pure. */
function preferredTransport(listeners: Listener[]): SipTransportName {
  if (listeners.length === 0 || listeners.some((a) => a.transport === 'udp')) return 'udp';
  return listeners.some((a) => a.transport === 'tcp') ? 'tcp' : 'tls';
}

/**
 * What to advertise from drachtio-server's `tls/h:p,tcp/h:p,udp/h:p` (in no set order: it keeps
 * them in a hash map): the listener of `transport` when given, else UDP, then TCP, then TLS, as
 * the embedded engine does. Taking the first entry advertised a TLS port as UDP. Pure.
 */
export function advertisedFromHostport(hostport: string, transport?: SipTransportName): { transport: SipTransportName; hostport: string } | undefined {
  const listeners = [...hostport.matchAll(/(?:^|,)\s*(udp|tcp|tls)\/([^,\s]+)/gi)].map((m) => ({ transport: (m[1] ?? '').toLowerCase() as SipTransportName, hostport: m[2] ?? '' }));
  for (const want of transport ? [transport] : (['udp', 'tcp', 'tls'] as const)) {
    const found = listeners.find((l) => l.transport === want);
    if (found) return found;
  }
  return undefined;
}
