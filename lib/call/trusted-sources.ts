/** Which source addresses may send INVITEs (the PBX). Pure. */
import { BlockList, isIP } from 'node:net';

export class TrustedSources {
  private list = new BlockList();

  constructor(cidrs: string[]) {
    this.replace(cidrs);
  }

  /** The new list takes effect at once (a config reload). */
  replace(cidrs: string[]): void {
    const list = new BlockList();
    for (const c of cidrs) {
      const [addr = '', bits] = c.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(addr, type);
      else list.addSubnet(addr, Number(bits), type);
    }
    this.list = list;
  }

  allows(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    // An IPv4 peer seen on a dual-stack socket arrives as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return this.list.check(mapped[1], 'ipv4');
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
