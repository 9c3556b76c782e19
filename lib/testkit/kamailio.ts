/**
 * Part of the testkit: runs a real Kamailio (Debian's `kamailio` package; KAMAILIO_BIN or
 * `kamailio` on PATH or in /usr/sbin) on loopback as a provider's registrar and record-routing
 * proxy, with a config this file writes:
 *
 * - registrar: every REGISTER is challenged (digest, realm = the To domain) and the password of a
 *   user is `passwordFor(user)`; usrloc lives in memory (db_mode 0);
 * - proxy: an out-of-dialog INVITE/MESSAGE for a registered user is record-routed and relayed
 *   statefully to the contact the registrar holds (pushwake's per-device contact); in-dialog
 *   requests follow their Route (loose routing); CANCEL follows its INVITE's transaction.
 *
 * No one on this project wrote it, so it catches what our own agents and engine agree on by
 * construction (issue 11: record-routing proxies).
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { startDaemonRetrying } from './daemon.js';
import { freePort } from './free-port.js';

/** KAMAILIO_BIN, else `kamailio` on PATH, else Debian's /usr/sbin/kamailio (a CI PATH may lack sbin). */
export const kamailioBin = (): string | undefined =>
  findBinary('KAMAILIO_BIN', ['kamailio']) ?? ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'].find(isExecutable);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The digest password the test registrar expects for `user`. */
export const passwordFor = (user: string): string => `secret-${user}`;

export interface KamailioOptions {
  /** Loopback address to bind (default 127.0.0.3, so pushwake can tell it from the phones). */
  address?: string;
}

export interface Kamailio {
  address: string;
  port: number;
  /** `sip:address:port` (add `;transport=tcp` for TCP). */
  uri: string;
  /** What Kamailio logged so far (for failure reports). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The routing script: challenge and save REGISTERs; record-route and relay (forking to every
 * contact) INVITE/MESSAGE for a registered user; loose-route in-dialog requests; CANCEL follows
 * its INVITE. The `pwk` lines are what the interop tests read.
 */
const ROUTES = `request_route {
  xlog("L_INFO", "pwk $rm $ru from $si:$sp/$pr ct=$ct ci=$ci cs=$cs\\n");
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }
  if (!sanity_check("17895", "7")) {
    xlog("L_WARN", "pwk malformed $rm from $si:$sp\\n");
    exit;
  }
  if (is_method("CANCEL")) {
    if (t_check_trans()) t_relay();
    exit;
  }
  if (!is_method("ACK")) {
    if (t_precheck_trans()) {
      t_check_trans();
      exit;
    }
    t_check_trans();
  }
  if (has_totag()) {
    if (loose_route()) {
      xlog("L_INFO", "pwk routed $rm to $ru via $du\\n");
      route(RELAY);
      exit;
    }
    if (is_method("ACK")) {
      if (t_check_trans()) route(RELAY);
      exit;
    }
    sl_send_reply("404", "Not here");
    exit;
  }
  remove_hf("Route");
  if (is_method("OPTIONS") && $rU == $null) {
    sl_send_reply("200", "Keepalive");
    exit;
  }
  if (is_method("REGISTER")) {
    $var(pw) = "secret-" + $tU;
    if (!pv_www_authenticate("$td", "$var(pw)", "0")) {
      www_challenge("$td", "0");
      exit;
    }
    consume_credentials();
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (is_method("INVITE|MESSAGE")) {
    record_route();
    if (!lookup("location")) {
      sl_send_reply("404", "Not Found");
      exit;
    }
    route(RELAY);
  }
  sl_send_reply("405", "Method Not Allowed");
}

route[RELAY] {
  if (!t_relay()) sl_reply_error();
  exit;
}
`;

export function kamailioConfig(address: string, port: number): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
tcp_children=2
auto_aliases=no
listen=udp:${address}:${port}
listen=tcp:${address}:${port}
tcp_connection_lifetime=3605
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"

loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "enable_double_rr", 1)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 60)
modparam("auth", "nonce_expire", 300)
modparam("tm", "fr_timer", 30000)
modparam("tm", "fr_inv_timer", 60000)
${ROUTES}`;
}


export async function startKamailio(bin: string, opts: KamailioOptions = {}): Promise<Kamailio> {
  const address = opts.address ?? '127.0.0.3';
  let port = 0;
  const daemon = await startDaemonRetrying(async () => {
    port = await freePort();
    return {
      name: 'kamailio',
      bin,
      files: () => ({ 'kamailio.cfg': kamailioConfig(address, port) }),
      args: (dir) => ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', '64', '-M', '8', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-w', dir],
      readyPorts: [{ address, port }],
      keepBytes: 200_000,
    };
  });
  return { address, port, uri: `sip:${address}:${port}`, output: daemon.output, stop: daemon.stop };
}
