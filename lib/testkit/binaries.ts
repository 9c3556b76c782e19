/**
 * Optional third-party binaries the extra test suites and benchmarks use: a drachtio-server and
 * SIPp. Found through DRACHTIO_BIN / SIPP_BIN or on PATH; never built or shipped by this repo.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findBinary(envVar: string, names: string[]): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const name of names) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export const drachtioBin = (): string | undefined => findBinary('DRACHTIO_BIN', ['drachtio']);
export const sippBin = (): string | undefined => findBinary('SIPP_BIN', ['sipp']);
