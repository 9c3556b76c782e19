/** pushwake's version, from its package.json (read once). */
import { readFileSync } from 'node:fs';

function read(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const v = (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string });
      if (v.name === 'pushwake' && v.version) return v.version;
    } catch {
      // not there: the other layout (sources or dist)
    }
  }
  return 'unknown';
}

export const PACKAGE_VERSION = read();
