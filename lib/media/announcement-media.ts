/**
 * The seam between a call's announcement and the media server: open an endpoint for the caller's
 * SDP, run prompts on it, release it. FreeswitchMedia implements it with drachtio-fsmrf; the call
 * path's unit tests use a fake.
 */
import type { PlayCommand, PromptSettings } from './prompts.js';

/** Why a call goes on without announcements; stable, for code and for the metric's label. */
export type MediaUnavailableCode =
  /** Not connected to FreeSWITCH (down, unreachable, refused, or not yet connected). */
  | 'MEDIA_DOWN'
  /** The endpoint was not ready within media.setupTimeoutMs. */
  | 'MEDIA_SLOW'
  /** media.maxAnnouncements endpoints are held already. */
  | 'MEDIA_BUSY'
  /** FreeSWITCH refused the endpoint (its INVITE failed), or fsmrf failed. */
  | 'MEDIA_ERROR'
  /** FreeSWITCH dropped an endpoint while it was announcing (it went away mid-call). */
  | 'MEDIA_LOST';

/** One FreeSWITCH channel playing to one caller. */
export interface MediaEndpoint {
  /** FreeSWITCH's answer to the caller's offer: what the caller gets in the 183 and the 200. */
  readonly sdp: string;
  /** Run a prompt; resolves when it ends or is stopped, rejects when the endpoint is gone. */
  play(command: PlayCommand): Promise<void>;
  /** Stop what plays now (the play() it ran resolves). */
  stopPlaying(): Promise<void>;
  /** Hang the channel up; resolves once FreeSWITCH let it go, or was found gone. Idempotent. */
  release(): Promise<void>;
  /** FreeSWITCH ended the channel by itself (it stopped, or hung it up). */
  onLost(fn: () => void): void;
}

export type OpenOutcome =
  | { kind: 'ready'; endpoint: MediaEndpoint }
  | { kind: 'unavailable'; code: MediaUnavailableCode; why: string };

export interface AnnouncementMedia {
  readonly prompts: PromptSettings;
  /** An endpoint for the caller's offer, within media.setupTimeoutMs, or why not. Never rejects. */
  open(callerSdp: string): Promise<OpenOutcome>;
  /** Told of each announcement that could not go on (log line and metric). */
  unavailable(code: MediaUnavailableCode, why: string, callId: string): void;
}
