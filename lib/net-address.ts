/** Network addresses as they are written in URIs, Via and URLs: an IPv6 literal goes in brackets (RFC 3986 3.2.2, RFC 3261 25.1). */

/** `::1` → `[::1]`; IPv4 and names (and already bracketed literals) unchanged. Pure. */
export function bracketHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/** host:port with an IPv6 address bracketed. Pure. */
export function hostPort(address: string, port: number): string {
  return `${bracketHost(address)}:${port}`;
}
