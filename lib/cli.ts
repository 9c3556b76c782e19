#!/usr/bin/env node
/**
 * pushwake's command line:
 *   pushwake start [--config FILE]      run the proxy (embedded engine and store by default)
 *   pushwake push-sink [options]        a local APNs look-alike that prints every push
 *   pushwake check-config [--config F]  validate a config file and print the result
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { startPushwake } from './pushwake.js';
import { startPushSink } from './push-sink/index.js';
import { AdminCliError, adminCommand } from './ops/admin-cli.js';

const USAGE = `usage:
  pushwake start [--config FILE]
      Run the proxy. Without --config it runs on the embedded defaults (config/pushwake.yaml):
      embedded SIP engine on 127.0.0.1:5060 (UDP+TCP), embedded store in ./data/pushwake.
  pushwake check-config [--config FILE]
      Validate the configuration (defaults + FILE + PUSHWAKE_* env) and print it as JSON.
  pushwake status | calls | reload                          [admin options]
  pushwake bindings list [--aor A] [--limit N]               [admin options]
  pushwake bindings show AOR                                 [admin options]
  pushwake bindings delete AOR [--device KEY]                [admin options]
  pushwake push (--aor A | --token T [--topic X]) --yes-ring-the-phone   [admin options]
      Talk to a running pushwake's admin API. Admin options: --admin URL (default: admin.listen
      of --config FILE, else http://127.0.0.1:8089; env PUSHWAKE_ADMIN_URL), --token T (env
      PUSHWAKE_ADMIN_TOKEN), --json (machine-readable output).
      A test push is a VoIP push: the phone shows it as an incoming call (pushwake then ends it
      with an ended notice), so it needs --yes-ring-the-phone.
  pushwake push-sink [--host H] [--port P] [--key-dir DIR] [--rules FILE] [--jsonl FILE] [--on-push CMD] [--unchecked]
      A local HTTP/2 TLS server speaking APNs' provider API. It checks each push as Apple does,
      prints it as a JSON line (or appends it to --jsonl) and answers per --rules.
      --key-dir DIR writes the APNs test key (apns-key.p8) and the sink's CA (push-sink-ca.pem)
      there and prints the pushwake settings that point at the sink.
      --on-push CMD runs CMD per push with {token} {pushHint} {callUuid} {callerNumber} {callId}
      substituted (shell-quoted).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'push-sink':
      return pushSink(rest);
    case 'status':
    case 'calls':
    case 'reload':
    case 'bindings':
    case 'push':
      return adminCommand(command, rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`pushwake: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

function configFile(args: string[]): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  return values.config;
}

async function start(args: string[]): Promise<number> {
  const file = configFile(args);
  const config = loadConfig(file ? { file } : {});
  const log = createLogger(config.log.level, undefined, config.log.format);
  const running = await startPushwake(config, { log, ...(file ? { configFile: file } : {}) });
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      running.stop().then(done, (err: unknown) => {
        log.error({ err }, 'error while stopping');
        done();
      });
    };
    // SIGHUP re-reads the config (and the SIP TLS certificate and key): live keys applied, nothing dropped
    const reload = (): void => {
      log.info({ signal: 'SIGHUP' }, 'reload requested');
      void running.reload();
    };
    process.on('SIGHUP', reload);
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  }).finally(() => process.removeAllListeners('SIGHUP'));
  return 0;
}

function checkConfig(args: string[]): number {
  const file = configFile(args);
  const config = loadConfig(file ? { file } : {});
  const masked = {
    ...config,
    engine: { ...config.engine, secret: '(set)' },
    store: { ...config.store, url: config.store.url.replace(/\/\/([^@/]*)@/, '//(credentials)@') },
  };
  process.stdout.write(JSON.stringify(masked, null, 2) + '\n');
  return 0;
}

async function pushSink(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'key-dir': { type: 'string' },
      rules: { type: 'string' },
      jsonl: { type: 'string' },
      'on-push': { type: 'string' },
      unchecked: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`);
  const sink = await startPushSink({
    host: values.host,
    port,
    ...(values.unchecked ? { providerKey: 'unchecked' as const } : {}),
    ...(values.rules ? { rulesFile: values.rules } : {}),
    output: values.jsonl ? { jsonlFile: values.jsonl } : 'stdout',
    ...(values['on-push'] ? { onPush: values['on-push'] } : {}),
  });
  const lines = [`push sink listening on ${sink.url}`];
  if (values['key-dir'] && sink.keyPem && sink.keyId && sink.teamId) {
    const dir = resolve(values['key-dir']);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'apns-key.p8'), sink.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'push-sink-ca.pem'), sink.caCertPem);
    lines.push(
      'point pushwake at it with:',
      `  PUSHWAKE_APNS_KEY_FILE=${join(dir, 'apns-key.p8')} PUSHWAKE_APNS_KEY_ID=${sink.keyId} PUSHWAKE_APNS_TEAM_ID=${sink.teamId} \\`,
      `  PUSHWAKE_APNS_HOST=${sink.host} PUSHWAKE_APNS_PORT=${sink.port} PUSHWAKE_APNS_CA_FILE=${join(dir, 'push-sink-ca.pem')} npm start`,
    );
  }
  process.stderr.write(lines.join('\n') + '\n');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await sink.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof AdminCliError) {
      process.stderr.write(`pushwake: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof ConfigError) process.stderr.write(`pushwake: ${err.message}\n`);
    else process.stderr.write(`pushwake: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
