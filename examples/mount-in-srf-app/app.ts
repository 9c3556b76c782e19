/**
 * An existing drachtio-srf app in front of a PBX, on drachtio-server: it answers OPTIONS and proxies
 * REGISTERs and calls to the PBX. Mounting pushwake (the five lines marked +) adds push wake-up for
 * iOS phones; everything else it passes on untouched. Settings come from the environment (README.md).
 */
import Srf from 'drachtio-srf';
import { pino } from 'pino';
import { createPushwake } from 'pushwake'; // +

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const log = pino({ base: { app: 'my-sbc' } });
const pbx = env('PBX_URI', 'sip:127.0.0.1:5070');

const srf = new Srf();
srf.on('error', (err: Error) => log.warn({ err }, 'srf'));

const pushwake = await createPushwake({ // +
  srf, logger: log, // +
  upstream: { registrar: pbx, trustedSources: [env('PBX_ADDRESS', '127.0.0.1')] },
  registration: { defaultTopic: env('APNS_TOPIC', 'com.example.phone.voip') },
  apns: {
    keyFile: env('APNS_KEY_FILE', ''), keyId: env('APNS_KEY_ID', ''), teamId: env('APNS_TEAM_ID', ''),
    host: env('APNS_HOST', ''), port: Number(env('APNS_PORT', '443')), caFile: env('APNS_CA_FILE', ''),
  },
  store: env('REDIS_URL', '') ? { kind: 'redis', url: env('REDIS_URL', '') } : { path: env('STORE_PATH', './data/pushwake') },
}); // +
pushwake.attach(); // + before the app's own handlers: middleware runs in the order it is mounted
pushwake.on('callEnded', (e) => log.info({ callId: e.callId, ending: e.ending }, 'pushwake call ended'));

// The app as it was: OPTIONS answered here, REGISTERs and calls proxied to the PBX.
srf.use('options', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => res.send(200));
srf.use('register', (req: Srf.SrfRequest) => srf.proxyRequest(req, pbx, { recordRoute: true }));
srf.invite((req) => srf.proxyRequest(req, pbx, { recordRoute: true }));

srf.on('connect', (err: Error | null, hostport: string) => {
  if (err) log.error({ err }, 'cannot connect to drachtio-server');
  else log.info({ hostport, advertisedHost: pushwake.advertisedHost }, 'example ready');
});
srf.connect({ host: env('DRACHTIO_HOST', '127.0.0.1'), port: Number(env('DRACHTIO_PORT', '9022')), secret: env('DRACHTIO_SECRET', 'cymru') });

const stop = async (): Promise<void> => {
  await pushwake.close();
  srf.disconnect();
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
