/**
 * An srf app on pushwake's embedded SIP engine (no drachtio-server): it answers OPTIONS, relays
 * calls to the PBX as a B2BUA, and has pushwake mounted for push wake-up. Settings come from the
 * environment (see README.md in this folder).
 */
import Srf from 'drachtio-srf';
import { pino } from 'pino';
import { createPushwake, startEmbeddedEngine } from 'pushwake';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`set ${name}`);
  return v;
};
const log = pino({ base: { app: 'my-sbc' } });
const pbx = env('PBX_URI', 'sip:127.0.0.1:5070');

// 1. The SIP engine, in this process. drachtio-srf connects to it as it would to drachtio-server.
const engine = await startEmbeddedEngine({
  sip: [{ address: env('SIP_ADDRESS', '127.0.0.1'), port: Number(env('SIP_PORT', '5060')), transports: ['udp', 'tcp'] }],
  wire: { secret: 'cymru' },
  log: (level, msg, fields) => log[level](fields ?? {}, msg),
});

// 2. The app's Srf, and pushwake mounted first: it takes push REGISTERs and calls for its phones.
const srf = new Srf();
srf.on('error', (err: Error) => log.warn({ err }, 'srf'));
const pushwake = await createPushwake({
  srf,
  logger: log,
  upstream: { registrar: pbx, trustedSources: [env('PBX_ADDRESS', '127.0.0.1')] },
  registration: { defaultTopic: env('APNS_TOPIC', 'com.example.phone.voip') },
  apns: {
    keyFile: env('APNS_KEY_FILE', ''), keyId: env('APNS_KEY_ID', ''), teamId: env('APNS_TEAM_ID', ''),
    host: env('APNS_HOST', ''), port: Number(env('APNS_PORT', '443')), caFile: env('APNS_CA_FILE', ''),
  },
  store: { path: env('STORE_PATH', './data/pushwake') },
});
pushwake.attach();
pushwake.on('callEnded', (e) => log.info({ callId: e.callId, ending: e.ending }, 'pushwake call ended'));

// 3. The app's own routes: everything pushwake passed on.
srf.use('options', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => res.send(200));
srf.use('register', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => res.send(403, 'Push Registrations Only', {}));
srf.invite((req, res) => {
  // the embedded engine does not proxy (srf.proxyRequest): relay the call as a B2BUA
  srf.createB2BUA(req, res, req.uri, { proxy: pbx })
    .then(({ uas, uac }) => {
      uas.on('destroy', () => uac.destroy());
      uac.on('destroy', () => uas.destroy());
    })
    .catch((err: { status?: number }) => log.info({ status: err.status }, 'relayed call failed'));
});

await new Promise<void>((resolve, reject) => {
  srf.on('connect', (err: Error | null) => (err ? reject(err) : resolve()));
  srf.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'cymru' });
});
log.info({ sip: engine.sipAddresses, advertisedHost: pushwake.advertisedHost }, 'example ready');

const stop = async (): Promise<void> => {
  await pushwake.close();
  srf.disconnect();
  await engine.stop();
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
