/** What the push shows about a call: who calls and whether with video. Pure. */
import { parseNameAddr, parseSipUri } from '../sip/name-addr.js';

export interface CallerInfo {
  callerNumber: string;
  callerName: string;
  withVideo: boolean;
}

const MAX_SHOWN = 64;

/** Printable, bounded text: control characters out, at most 64 characters. */
export function displayable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return Array.from(text.replace(/[\u0000-\u001f\u007f]/g, '')).slice(0, MAX_SHOWN).join('').trim();
}

export function callerInfoOf(header: (name: string) => string | undefined, sdp: string): CallerInfo {
  const identity = parseNameAddr(header('P-Asserted-Identity')?.split(',')[0] ?? '') ?? parseNameAddr(header('From') ?? '');
  const uri = identity ? parseSipUri(identity.uri) : undefined;
  const number = displayable(uri?.user ?? '');
  return {
    callerNumber: number || 'anonymous',
    callerName: displayable(identity?.displayName ?? '') || number || 'Unknown',
    withVideo: hasVideo(sdp),
  };
}

/** An SDP offer asks for video when it has an m=video line with a non-zero port. */
export function hasVideo(sdp: string): boolean {
  return /^m=video\s+[1-9]\d*/m.test(sdp);
}
