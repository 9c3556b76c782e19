/** The demos read pushwake's own account of its steps from its JSON log lines. */
import { Writable } from 'node:stream';

export interface LogEntry {
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** pushwake logs one JSON object per line; hand each to `onEntry`. */
export function pushwakeLogTap(onEntry: (entry: LogEntry) => void): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          onEntry(JSON.parse(line) as LogEntry);
        } catch {
          // not a log line of ours
        }
      }
      done();
    },
  });
}

