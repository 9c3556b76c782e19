/**
 * Just enough SIP reading for the load rig, with string operations and no parser: the status of a
 * response, the branch of its top Via, one header's value, the headers of a request in order.
 * The rig reads only what it wrote itself or what a relay sent back, so none of this is hardened
 * against hostile input (the product's parser is lib/sip; it is what is being measured).
 */

/** The status code of a response; 0 when `text` is not a response. */
export function statusOf(text: string): number {
  if (!text.startsWith('SIP/2.0 ')) return 0;
  const code = Number(text.slice(8, 11));
  return Number.isInteger(code) ? code : 0;
}

const BRANCH_END = /[;,\s>]/;

/** The branch of the first Via in `text` (the top one: the only one a response to a phone has). */
export function topBranchOf(text: string): string | undefined {
  let at = text.indexOf(';branch=');
  if (at < 0) {
    at = text.toLowerCase().indexOf(';branch=');
    if (at < 0) return undefined;
  }
  const start = at + 8;
  let end = start;
  while (end < text.length && !BRANCH_END.test(text.charAt(end))) end++;
  return text.slice(start, end);
}

/** The value of the first header called `name` (case-insensitive; `compact` is its short form). */
export function headerValue(text: string, name: string, compact?: string): string | undefined {
  const want = name.toLowerCase();
  let line = text.indexOf('\r\n') + 2;
  while (line > 1 && line < text.length) {
    const end = text.indexOf('\r\n', line);
    if (end < 0 || end === line) return undefined;
    const colon = text.indexOf(':', line);
    if (colon > line && colon < end) {
      const n = text.slice(line, colon).trim().toLowerCase();
      if (n === want || n === compact) return text.slice(colon + 1, end).trim();
    }
    line = end + 2;
  }
  return undefined;
}

/** The params of a digest challenge or credentials: `realm="x", nonce="y", qop=auth` → map. */
export function authParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) out.set((m[1] ?? '').toLowerCase(), m[2] ?? m[3] ?? '');
  return out;
}

/** The host of a SIP URI inside a name-addr: `"x" <sip:u@example.com;p>;tag=1` → example.com. */
export function uriHostOf(nameAddr: string): string | undefined {
  const sip = nameAddr.indexOf('sip:');
  if (sip < 0) return undefined;
  let start = sip + 4;
  const at = nameAddr.indexOf('@', start);
  const close = nameAddr.indexOf('>', start);
  if (at >= 0 && (close < 0 || at < close)) start = at + 1;
  let end = start;
  while (end < nameAddr.length && !/[;:>?\s]/.test(nameAddr.charAt(end))) end++;
  return end > start ? nameAddr.slice(start, end) : undefined;
}
