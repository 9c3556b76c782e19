/**
 * Turns a free-form value (an AOR, a device key, a Call-ID) into one segment of a storage key.
 *
 * Store keys are built as `kind:segment:segment`. The values come from the network, so they may
 * contain the separator itself; without escaping, aor `a:b` + device `c` and aor `a` + device
 * `b:c` would share a key. Escaping `%` and `:` makes the encoding injective, and keeps a prefix
 * scan over `kind:segment:` exact. Lone UTF-16 surrogates are escaped too, because both LevelDB
 * and Redis see keys as UTF-8 bytes, where every lone surrogate would collapse into U+FFFD.
 */
const ESCAPED = /[%:]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function keyPart(value: string): string {
  return value.replace(ESCAPED, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
