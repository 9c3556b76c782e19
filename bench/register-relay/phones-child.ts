/**
 * The phones of bench/register-relay.ts in a process of their own (so their CPU is counted
 * apart from the parent's): `node --import tsx phones-child.ts '<FleetOptions JSON>'` with an IPC
 * channel. Says `ready` with its socket ports, then answers the parent's PhonesRequests.
 */
import { PhoneFleet } from './phone-fleet.js';
import type { FleetOptions, PhonesReply, PhonesRequest } from './protocol.js';

const send = (m: PhonesReply): void => {
  if (process.connected) process.send?.(m);
};

async function serve(fleet: PhoneFleet, m: PhonesRequest & { id: number }): Promise<void> {
  switch (m.type) {
    case 'closed-loop':
      fleet.closedLoop(m.window);
      send({ type: 'counts', id: m.id, counts: fleet.snapshot() });
      return;
    case 'counts':
      send({ type: 'counts', id: m.id, counts: fleet.snapshot() });
      return;
    case 'stop':
      await fleet.stop(m.drainMs);
      send({ type: 'counts', id: m.id, counts: fleet.snapshot() });
      return;
    case 'fixed-rate':
      send({ type: 'fixed-rate-done', id: m.id, outcome: await fleet.fixedRate(m.rate, m.seconds) });
      return;
  }
}

// The parent went away (end of run, crash, Ctrl-C): stop rather than linger.
process.on('disconnect', () => process.exit(0));

PhoneFleet.open(JSON.parse(process.argv[2] ?? '{}') as FleetOptions).then(
  (fleet) => {
    process.on('message', (raw: unknown) => void serve(fleet, raw as PhonesRequest & { id: number }));
    send({ type: 'ready', ports: fleet.localPorts });
  },
  (err: unknown) => {
    send({ type: 'start-failed', error: String((err as Error).stack ?? err) });
    process.exit(1);
  },
);
