/**
 * Part of the testkit: runs a real FreeSWITCH (FREESWITCH_BIN, or `freeswitch` on PATH; never
 * built or shipped by this repo) on loopback as the media server drachtio-fsmrf drives, with a
 * config this file writes into the server's own directory:
 *
 * - one sofia profile, `drachtio_mrf`, on 127.0.0.1 (UDP and TCP on one port), RTP on 127.0.0.1,
 *   external addresses 127.0.0.1, no registrations, PCMU/PCMA;
 * - its dialplan answers a call from drachtio-fsmrf and hands it to the outbound event socket the
 *   `X-esl-outbound` header names (drachtio-fsmrf listens there for the new channel);
 * - the inbound event socket on 127.0.0.1 with its own password;
 * - only the modules that needs, started with `-nonat`: no STUN, no NAT discovery, nothing
 *   leaves loopback.
 *
 * FreeSWITCH sends RTP to an endpoint only once it has heard from the far end: a test agent that
 * wants to hear a prompt sends RTP first.
 */
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { startDaemonRetrying } from './daemon.js';
import { freePort } from './free-port.js';

export const freeswitchBin = (): string | undefined => findBinary('FREESWITCH_BIN', ['freeswitch']);

export interface FreeswitchServer {
  address: string;
  /** the inbound event socket drachtio-fsmrf connects to */
  eslPort: number;
  eslSecret: string;
  /** the drachtio_mrf profile's SIP port (UDP and TCP) */
  sipPort: number;
  /** the FreeSWITCH process (benchmarks read its CPU time) */
  pid: number;
  /** FreeSWITCH's own log (in its directory, gone after stop) */
  logFile: string;
  output(): string;
  stop(): Promise<void>;
}

export interface FreeswitchOptions {
  /** first RTP port; FreeSWITCH takes from here to rtpPortStart + 999 (default 41000) */
  rtpPortStart?: number;
}

const MODULES = [
  'mod_console', 'mod_logfile', 'mod_event_socket', 'mod_commands', 'mod_dptools', 'mod_dialplan_xml',
  'mod_sndfile', 'mod_native_file', 'mod_tone_stream', 'mod_sofia',
];

/** The whole configuration, one file (freeswitch.xml), for a loopback-only media server. */
export function freeswitchConfig(opts: { address: string; eslPort: number; eslSecret: string; sipPort: number; rtpPortStart: number }): string {
  const param = (name: string, value: string | number): string => `<param name="${name}" value="${value}"/>`;
  return `<?xml version="1.0"?>
<document type="freeswitch/xml">
  <section name="configuration" description="pushwake testkit">
    <configuration name="switch.conf" description="core">
      <settings>
        ${param('rtp-start-port', opts.rtpPortStart)}
        ${param('rtp-end-port', opts.rtpPortStart + 999)}
        ${param('max-sessions', 500)}
        ${param('sessions-per-second', 500)}
        ${param('loglevel', 'info')}
      </settings>
    </configuration>
    <configuration name="modules.conf" description="modules">
      <modules>
        ${MODULES.map((m) => `<load module="${m}"/>`).join('\n        ')}
      </modules>
    </configuration>
    <configuration name="console.conf" description="console">
      <mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
      <settings>${param('colorize', 'false')}${param('loglevel', 'info')}</settings>
    </configuration>
    <configuration name="logfile.conf" description="log file">
      <settings>${param('rotate-on-hup', 'true')}</settings>
      <profiles><profile name="default"><settings>${param('rollover', 10485760)}</settings>
        <mappings><map name="all" value="debug,info,notice,warning,err,crit,alert"/></mappings></profile></profiles>
    </configuration>
    <configuration name="event_socket.conf" description="event socket">
      <settings>
        ${param('nat-map', 'false')}
        ${param('listen-ip', opts.address)}
        ${param('listen-port', opts.eslPort)}
        ${param('password', opts.eslSecret)}
      </settings>
    </configuration>
    <configuration name="sofia.conf" description="sofia">
      <global_settings>${param('log-level', 0)}</global_settings>
      <profiles>
        <profile name="drachtio_mrf">
          <settings>
            ${param('sip-ip', opts.address)}
            ${param('rtp-ip', opts.address)}
            ${param('ext-sip-ip', opts.address)}
            ${param('ext-rtp-ip', opts.address)}
            ${param('sip-port', opts.sipPort)}
            ${param('dialplan', 'XML')}
            ${param('context', 'mrf')}
            ${param('auth-calls', 'false')}
            ${param('disable-register', 'true')}
            ${param('aggressive-nat-detection', 'false')}
            ${param('inbound-codec-prefs', 'PCMU,PCMA')}
            ${param('outbound-codec-prefs', 'PCMU,PCMA')}
          </settings>
        </profile>
      </profiles>
    </configuration>
  </section>
  <section name="dialplan" description="drachtio-fsmrf endpoints">
    <context name="mrf">
      <extension name="drachtio-fsmrf">
        <condition field="\${sip_h_X-esl-outbound}" expression="^(.+)$">
          <action application="answer"/>
          <action application="set" data="hangup_after_bridge=false"/>
          <action application="set" data="park_after_bridge=true"/>
          <action application="socket" data="$1 async full"/>
        </condition>
      </extension>
    </context>
  </section>
</document>
`;
}

export async function startFreeswitch(bin: string, opts: FreeswitchOptions = {}): Promise<FreeswitchServer> {
  const address = '127.0.0.1';
  const eslSecret = `pw-${Math.random().toString(36).slice(2, 10)}`;
  let eslPort = 0;
  let sipPort = 0;
  const daemon = await startDaemonRetrying(async () => {
    eslPort = await freePort();
    sipPort = await freePort();
    return {
      name: 'freeswitch',
      bin,
      files: () => ({ 'freeswitch.xml': freeswitchConfig({ address, eslPort, eslSecret, sipPort, rtpPortStart: opts.rtpPortStart ?? 41000 }) }),
      args: (dir) => ['-nonat', '-nc', '-nf', '-conf', dir, '-log', dir, '-db', dir, '-run', dir, '-temp', dir],
      // the event socket and the profile's TCP side: drachtio-fsmrf asks for the profile on connect
      readyPorts: [{ address, port: eslPort }, { address, port: sipPort }],
      startTimeoutMs: 30_000,
      keepBytes: 200_000,
    };
  });
  return { address, eslPort, eslSecret, sipPort, pid: daemon.pid, logFile: join(daemon.dir, 'freeswitch.log'), output: daemon.output, stop: daemon.stop };
}
