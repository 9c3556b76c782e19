/**
 * Part of the testkit: one side's media in a test call. An RTP socket on loopback that counts what
 * it hears (by source port, so a test can tell FreeSWITCH's packets from a phone's) and, once told
 * where, sends PCMU silence every 20 ms. FreeSWITCH sends RTP to a peer only after hearing from
 * it, so a caller that wants to hear a prompt sends first.
 */
import dgram from 'node:dgram';

/** The first audio port and connection address of an SDP body. */
export function audioTarget(sdp: string): { address: string; port: number } | undefined {
  const port = /^m=audio (\d+)/m.exec(sdp)?.[1];
  const address = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
  return port && address ? { address, port: Number(port) } : undefined;
}

/** PCMU bytes of silence and near-silence (the G.711 mu-law codes around zero). */
const QUIET = new Set([0xff, 0xfe, 0xfd, 0x7f, 0x7e, 0x7d]);

/** A PCMU payload that carries sound: a prompt or a tone, not silence or comfort noise. */
function isSound(packet: Buffer): boolean {
  let loud = 0;
  for (let i = 12; i < packet.length; i++) if (!QUIET.has(packet[i] ?? 0xff)) loud++;
  return loud >= 16;
}

export class RtpAgent {
  /** Packets heard, by source port. */
  readonly heard = new Map<number, number>();
  /** Packets heard that carried sound (not silence), from anyone. */
  sound = 0;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private target: { address: string; port: number } | undefined;

  private constructor(private readonly socket: dgram.Socket, private readonly ssrc: number) {
    socket.on('message', (msg, from) => {
      this.heard.set(from.port, (this.heard.get(from.port) ?? 0) + 1);
      if (isSound(msg)) this.sound++;
    });
  }

  static async open(): Promise<RtpAgent> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpAgent(socket, Math.floor(Math.random() * 0xffffffff));
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Packets heard from anyone. */
  get received(): number {
    let n = 0;
    for (const v of this.heard.values()) n += v;
    return n;
  }

  /** Packets heard from the sender whose SDP this is (its media port). */
  heardFrom(sdp: string): number {
    const t = audioTarget(sdp);
    return t ? (this.heard.get(t.port) ?? 0) : 0;
  }

  /** An SDP offer or answer for this socket: PCMU and telephone-event, `origin` names its owner. */
  sdp(origin = 'agent'): string {
    return ['v=0', `o=${origin} 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.port} RTP/AVP 0 101`,
      'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
  }

  /** Send (from now on) to the audio port of this SDP; a later call moves the stream. */
  sendTo(sdp: string): void {
    this.target = audioTarget(sdp);
    this.timer ??= setInterval(() => this.sendOne(), 20);
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }

  private sendOne(): void {
    const t = this.target;
    if (!t) return;
    const packet = Buffer.alloc(12 + 160, 0xff);
    packet[0] = 0x80;
    packet[1] = 0;
    packet.writeUInt16BE(this.seq & 0xffff, 2);
    packet.writeUInt32BE((this.seq * 160) >>> 0, 4);
    packet.writeUInt32BE(this.ssrc >>> 0, 8);
    this.seq += 1;
    this.socket.send(packet, t.port, t.address);
  }
}
