import { splitOutside } from './headers.js';

/**
 * The generic-params of a URI, a header or a Via (RFC 3261 25.1: `;name=value;flag`), in order:
 * the name lower-cased, the value as written (trimmed), or null for a flag. Split outside quoted
 * strings and angle brackets, so a quoted value may hold `;`. One grammar for the engine's strict
 * parsers and pushwake's tolerant ones. Pure.
 */
export function paramEntries(text: string): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  for (const part of splitOutside(text, ';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (name) out.push([name, eq < 0 ? null : p.slice(eq + 1).trim()]);
  }
  return out;
}

/** Parameters as the engine reads them: a flag is '', and a repeated name keeps its last value. */
export function paramRecord(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of paramEntries(text)) params[name] = value ?? '';
  return params;
}
