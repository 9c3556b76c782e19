/**
 * The CLI over a running pushwake's admin API: status, calls, bindings, a test push, reload.
 * Tables for people, `--json` for scripts. When the admin server cannot be reached it says where
 * it looked and how to point elsewhere.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';

interface Target {
  url: string;
  token: string;
  /** Where the URL came from, for the "cannot reach" message. */
  from: string;
}

export class AdminCliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

const OPTIONS = {
  admin: { type: 'string' },
  token: { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  aor: { type: 'string' },
  device: { type: 'string' },
  limit: { type: 'string' },
  topic: { type: 'string' },
  'push-token': { type: 'string' },
  'yes-ring-the-phone': { type: 'boolean', default: false },
} as const;

export async function adminCommand(command: string, args: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  // `push --token T` is the device token; the admin token is then --admin-token or the env
  const normalised = command === 'push' ? args.map((a) => (a === '--token' ? '--push-token' : a.startsWith('--token=') ? `--push-token=${a.slice(8)}` : a)).map((a) => (a === '--admin-token' ? '--token' : a)) : args;
  const { values, positionals } = parseArgs({ args: normalised, options: OPTIONS, allowPositionals: true, strict: true });
  const target = resolveTarget(values.admin, values.token, values.config);
  const print = (data: unknown, human: () => string): void => out(values.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
  switch (command) {
    case 'status': {
      const s = await call<Record<string, unknown>>(target, 'GET', '/api/status');
      print(s, () => Object.entries(s).map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n'));
      return 0;
    }
    case 'calls': {
      const { calls } = await call<{ calls: Array<Record<string, unknown>> }>(target, 'GET', '/api/calls');
      print(calls, () => calls.length === 0 ? 'no calls parked or ringing' : table(calls, ['state', 'aor', 'caller', 'ageSeconds', 'awaitedDevices', 'callId']));
      return 0;
    }
    case 'reload': {
      const r = await call<{ applied: string[]; restartNeeded: string[]; error?: string }>(target, 'POST', '/api/reload');
      print(r, () => r.error
        ? `reload refused, the running config is kept: ${r.error}`
        : [`applied: ${r.applied.join(', ') || 'nothing changed'}`, ...(r.restartNeeded.length ? [`need a restart (kept as running): ${r.restartNeeded.join(', ')}`] : [])].join('\n'));
      return r.error ? 1 : 0;
    }
    case 'bindings': {
      const [sub, aorArg] = positionals;
      if (sub === 'list' || sub === 'show') {
        const aor = sub === 'show' ? aorArg : values.aor;
        if (sub === 'show' && !aor) throw new AdminCliError('usage: pushwake bindings show AOR', 2);
        const q = new URLSearchParams({ ...(aor ? { aor } : {}), ...(values.limit ? { limit: values.limit } : {}) });
        const { bindings } = await call<{ bindings: Array<Record<string, unknown>> }>(target, 'GET', `/api/bindings?${q}`);
        if (sub === 'show' && bindings.length === 0) throw new AdminCliError(`no bindings for ${aor}`);
        print(bindings, () => bindings.length === 0 ? 'no bindings' : sub === 'show'
          ? bindings.map((b) => Object.entries(b).map(([k, v]) => `${k.padEnd(18)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('\n')).join('\n\n')
          : table(bindings.map((b) => ({ ...b, push: (b['push'] as { token?: string } | null)?.token ?? '-' })), ['aor', 'deviceKey', 'flow', 'push', 'upstreamExpiresAt']));
        return 0;
      }
      if (sub === 'delete') {
        if (!aorArg) throw new AdminCliError('usage: pushwake bindings delete AOR [--device KEY]', 2);
        const q = new URLSearchParams({ aor: aorArg, ...(values.device ? { device: values.device } : {}) });
        const r = await call<{ removed: number }>(target, 'DELETE', `/api/bindings?${q}`);
        print(r, () => `removed ${r.removed} binding(s) of ${aorArg} (the PBX still routes this user to pushwake until the upstream registration expires)`);
        return 0;
      }
      throw new AdminCliError('usage: pushwake bindings list|show|delete ...', 2);
    }
    case 'push': {
      const aor = values.aor;
      const token = values['push-token'];
      if (!aor === !token) throw new AdminCliError('usage: pushwake push (--aor AOR | --token TOKEN [--topic TOPIC]) --yes-ring-the-phone', 2);
      if (!values['yes-ring-the-phone']) {
        throw new AdminCliError('a test push is a VoIP push: the phone rings as for a call (pushwake ends it with an ended notice when the phone registers). Add --yes-ring-the-phone to send it.', 2);
      }
      const r = await call<{ results: Array<Record<string, unknown>> }>(target, 'POST', '/api/push', { confirm: true, ...(aor ? { aor } : { token, ...(values.topic ? { topic: values.topic } : {}) }) });
      print(r, () => table(r.results, ['deviceKey', 'token', 'result', 'callUuid', 'code', 'reason']));
      return r.results.every((x) => x['result'] === 'delivered') ? 0 : 1;
    }
    default:
      throw new AdminCliError(`unknown command ${command}`, 2);
  }
}

function resolveTarget(admin: string | undefined, token: string | undefined, configFile: string | undefined): Target {
  const envUrl = process.env['PUSHWAKE_ADMIN_URL'];
  const envToken = process.env['PUSHWAKE_ADMIN_TOKEN'];
  if (admin) return { url: admin.replace(/\/$/, ''), token: token ?? envToken ?? '', from: '--admin' };
  if (envUrl) return { url: envUrl.replace(/\/$/, ''), token: token ?? envToken ?? '', from: 'PUSHWAKE_ADMIN_URL' };
  const config = loadConfig(configFile ? { file: configFile } : {});
  if (config.admin.listen === '') throw new AdminCliError(`the admin server is off in ${configFile ?? 'the configuration'} (admin.listen is ""); give --admin URL`);
  return { url: `http://${config.admin.listen}`, token: token ?? envToken ?? config.admin.token, from: configFile ? `admin.listen of ${configFile}` : 'admin.listen (default)' };
}

async function call<T>(target: Target, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: { ...(target.token ? { Authorization: `Bearer ${target.token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new AdminCliError(`cannot reach pushwake's admin server at ${target.url} (from ${target.from}): ${cause}. Is pushwake running? Point elsewhere with --admin URL or PUSHWAKE_ADMIN_URL.`);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AdminCliError(`${target.url}${path} answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } }).error;
    throw new AdminCliError(`${e?.code ?? `HTTP ${res.status}`}: ${e?.message ?? text}`);
  }
  return data as T;
}

/** Rows as an aligned text table over the given columns. */
function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cell = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}
