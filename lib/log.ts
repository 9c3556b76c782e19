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

/** A log line's method: fields then message, or a message alone (pino's order). */
export type LogMethod = (fieldsOrMsg: object | string, msg?: string) => void;

/** The levels a call logs at: what a pino Logger offers, and a FieldLog too. */
export interface CallLog {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

/**
 * A call's log: every line carries the call's fields, as with `logger.child(fields)`, but the
 * fields are merged when a line is written instead of being kept serialised on a child logger.
 * A parked call holds its logger for as long as it waits, and a pino child's serialised fields
 * cost a few hundred bytes a call; most of the time nothing is logged at all.
 */
export class FieldLog implements CallLog {
  constructor(private readonly base: Logger, private readonly fields: Readonly<Record<string, unknown>>) {}

  // prototype methods, not per-instance closures: one FieldLog per call
  debug(f: object | string, msg?: string): void {
    this.write('debug', f, msg);
  }

  info(f: object | string, msg?: string): void {
    this.write('info', f, msg);
  }

  warn(f: object | string, msg?: string): void {
    this.write('warn', f, msg);
  }

  error(f: object | string, msg?: string): void {
    this.write('error', f, msg);
  }

  private write(level: 'debug' | 'info' | 'warn' | 'error', f: object | string, msg: string | undefined): void {
    if (!this.base.isLevelEnabled(level)) return;
    if (typeof f === 'string') this.base[level](this.fields, f);
    else this.base[level]({ ...this.fields, ...f }, msg);
  }
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
