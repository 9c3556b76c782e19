/**
 * Is an INVITE's body an SDP offer a phone could answer? A push for a call that cannot connect is
 * exactly what iOS punishes, so anything else is refused before any push: 415 for a body that is
 * not SDP, 488 for SDP that is not a usable offer. Pure.
 */

export type OfferCheck =
  | { kind: 'offer'; sdp: string }
  | { kind: 'refused'; status: 415 | 488; why: string; headers: Record<string, string> };

/** Largest body looked at; the engine already caps whole messages. */
const MAX_BODY = 64 * 1024;

const refuse415 = (why: string): OfferCheck => ({ kind: 'refused', status: 415, why, headers: { Accept: 'application/sdp, multipart/mixed' } });
const refuse488 = (why: string): OfferCheck => ({ kind: 'refused', status: 488, why, headers: {} });

export function readOffer(contentType: string | undefined, body: string): OfferCheck {
  if (!body) return refuse488('INVITE without SDP offer (delayed offer) is not supported');
  if (body.length > MAX_BODY) return refuse488('SDP offer too large');
  const type = mediaType(contentType);
  if (!type) return refuse415('body without Content-Type');
  if (type.type === 'application/sdp') return checkSdp(body);
  if (type.type.startsWith('multipart/')) {
    const boundary = type.params.get('boundary');
    if (!boundary) return refuse415('multipart body without boundary');
    const part = multipartParts(body, boundary).find((p) => mediaType(p.contentType)?.type === 'application/sdp');
    return part ? checkSdp(part.body) : refuse415('multipart body without an application/sdp part');
  }
  return refuse415(`body of type ${type.type.slice(0, 60)} is not an SDP offer`);
}

function mediaType(value: string | undefined): { type: string; params: Map<string, string> } | undefined {
  if (!value) return undefined;
  const [head = '', ...rest] = value.split(';');
  const type = head.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return undefined;
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { type, params };
}

/** RFC 2046 5.1 parts: their Content-Type and body (preamble and epilogue ignored). */
function multipartParts(body: string, boundary: string): Array<{ contentType?: string; body: string }> {
  const parts: Array<{ contentType?: string; body: string }> = [];
  const chunks = body.split(`--${boundary}`);
  // chunks[0] is the preamble; a chunk starting with "--" closes the body
  for (const chunk of chunks.slice(1, 32)) {
    if (chunk.startsWith('--')) break;
    const text = chunk.replace(/^\r?\n/, '');
    const sep = /\r?\n\r?\n/.exec(text);
    if (!sep) continue;
    const head = text.slice(0, sep.index);
    const ct = /^content-type[ \t]*:[ \t]*(.+)$/im.exec(head)?.[1]?.trim();
    parts.push({ ...(ct ? { contentType: ct } : {}), body: text.slice(sep.index + sep[0].length).replace(/\r?\n$/, '') });
  }
  return parts;
}

const LINE_RE = /^[a-z]=[^\r\n]*$/;
const ORIGIN_RE = /^o=\S+ \S+ \S+ IN IP[46] \S+$/;
const MEDIA_RE = /^m=[a-z0-9._-]+ \d{1,5}(?:\/\d+)? [A-Za-z0-9/._-]+(?: \S+)+$/;
const CONNECTION_RE = /^c=IN IP[46] \S+$/;

/** RFC 4566 5: v=0 first, then o=, s=, t=, at least one m=, and a c= for every media section. */
function checkSdp(sdp: string): OfferCheck {
  const lines = sdp.split(/\r?\n/);
  while (lines.at(-1) === '') lines.pop();
  if (lines[0] !== 'v=0') return refuse488('SDP offer must start with v=0');
  const bad = lines.find((l) => !LINE_RE.test(l));
  if (bad !== undefined) return refuse488('SDP offer has a malformed line');
  const origin = lines.find((l) => l.startsWith('o='));
  if (!origin || !ORIGIN_RE.test(origin)) return refuse488('SDP offer has no valid o= line');
  if (!lines.some((l) => l.startsWith('s='))) return refuse488('SDP offer has no s= line');
  if (!lines.some((l) => l.startsWith('t='))) return refuse488('SDP offer has no t= line');
  const firstMedia = lines.findIndex((l) => l.startsWith('m='));
  if (firstMedia < 0) return refuse488('SDP offer has no media (m=) line');
  const sessionConnection = lines.slice(0, firstMedia).some((l) => CONNECTION_RE.test(l));
  let sectionHasConnection = sessionConnection;
  for (let i = firstMedia; i <= lines.length; i++) {
    const l = lines[i];
    if (l === undefined || l.startsWith('m=')) {
      if (i > firstMedia && !sectionHasConnection) return refuse488('SDP media section without a connection (c=) line');
      if (l === undefined) break;
      if (!MEDIA_RE.test(l)) return refuse488('SDP offer has a malformed m= line');
      sectionHasConnection = sessionConnection;
    } else if (l.startsWith('c=')) {
      if (!CONNECTION_RE.test(l)) return refuse488('SDP offer has a malformed c= line');
      sectionHasConnection = true;
    }
  }
  return { kind: 'offer', sdp };
}
