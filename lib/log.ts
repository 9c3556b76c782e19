import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/**
 * pushwake's root logger: JSON lines, or pretty lines (pino-pretty) for a person at a terminal.
 * `auto` is pretty when stdout is a TTY and no destination is given.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: 'auto' | 'json' | 'pretty' = 'json'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    const stream = pinoPretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app', destination: destination ?? 1, sync: true });
    return pino({ level, base: { app: 'pushwake' } }, stream);
  }
  return pino({ level, base: { app: 'pushwake' } }, destination ?? process.stdout);
}

/** A logger that drops everything (tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Tokens are logged only as a short prefix (they are credentials for waking a phone). */
export function tokenPrefix(token: string): string {
  return token.length <= 8 ? token : `${token.slice(0, 8)}…`;
}

/**
 * At most one warn line per interval for a recurring failure (a registrar that stopped answering
 * would otherwise log once per REGISTER), with the count suppressed since the last line.
 */
export class ThrottledWarning {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(private readonly log: Logger, private readonly msg: string, private readonly intervalMs = 10_000, private readonly now: () => number = Date.now) {}

  /** Log at warn level, unless one was logged within the interval. */
  warn(fields: Record<string, unknown>): void {
    this.emit('warn', fields);
  }

  /** The same, at error level (an outage rather than a peer's fault). */
  error(fields: Record<string, unknown>): void {
    this.emit('error', fields);
  }

  private emit(level: 'warn' | 'error', fields: Record<string, unknown>): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAt = t;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log[level](suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields, this.msg);
  }
}
