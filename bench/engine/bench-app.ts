/**
 * The drachtio-srf app every engine serves in this benchmark, through pushwake's own srf layer:
 * OPTIONS gets 200; INVITE gets 200 with an SDP answer (createUAS), and the caller's BYE ends the
 * dialog (srf answers it 200). Nothing else: the figures are the engine's and srf's, not pushwake's.
 */
import type { SipApp } from '../../lib/sip/srf.js';

const ANSWER_SDP = [
  'v=0',
  'o=bench 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

/** What the app has seen, for the report's sanity line. */
export interface BenchAppCounts {
  options: number;
  invites: number;
  /** Dialogs ended by the caller's BYE. */
  byes: number;
  /** createUAS rejections (e.g. the caller went away first). */
  uasFailures: number;
}

export function installBenchApp(app: SipApp): BenchAppCounts {
  const counts: BenchAppCounts = { options: 0, invites: 0, byes: 0, uasFailures: 0 };
  app.onRequest('options', (_req, res) => {
    counts.options++;
    res.send(200);
  });
  app.onRequest('invite', (req, res) => {
    counts.invites++;
    app.createUas(req, res, { localSdp: ANSWER_SDP }).then(
      (dialog) => dialog.on('destroy', () => { counts.byes++; }),
      () => { counts.uasFailures++; },
    );
  });
  return counts;
}
