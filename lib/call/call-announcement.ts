/**
 * One call's announcement (media.enabled): the FreeSWITCH endpoint made for the caller's offer,
 * the wake prompt on it while phones wake, and the closing prompt before a final response that
 * says nobody could be reached. It owns the endpoint and the closing prompt's bound, and lets both
 * go on release, whenever that comes: an endpoint still being made when the call is settled is
 * released as soon as it arrives.
 */
import type { CallLog } from '../log.js';
import type { AnnouncementMedia, MediaEndpoint } from '../media/announcement-media.js';
import { closingCommand, closingPromptFor, wakeCommand } from '../media/prompts.js';
import type { CallAnnouncement, CallEnding } from './call-types.js';

type State = 'idle' | 'opening' | 'playing' | 'closing' | 'unavailable' | 'lost' | 'released';

export class MediaAnnouncement implements CallAnnouncement {
  private state: State = 'idle';
  private endpoint: MediaEndpoint | undefined;
  private closingTimer: NodeJS.Timeout | undefined;
  private closingDone: (() => void) | undefined;

  constructor(
    private readonly media: AnnouncementMedia,
    private readonly callId: string,
    private readonly callerSdp: string,
    private readonly log: CallLog,
  ) {}

  async open(onLost: () => void): Promise<string | undefined> {
    if (this.state !== 'idle') return undefined;
    this.state = 'opening';
    const outcome = await this.media.open(this.callerSdp).catch((err: unknown) => ({ kind: 'unavailable' as const, code: 'MEDIA_ERROR' as const, why: (err as Error).message }));
    if (outcome.kind === 'unavailable') {
      if (this.state === 'opening') {
        this.state = 'unavailable';
        this.media.unavailable(outcome.code, outcome.why, this.callId);
        this.log.info({ code: outcome.code, why: outcome.why }, 'no announcement: the call goes on without media');
      }
      return undefined;
    }
    const endpoint = outcome.endpoint;
    if (this.state !== 'opening') {
      // settled while FreeSWITCH made it
      void endpoint.release();
      return undefined;
    }
    this.endpoint = endpoint;
    this.state = 'playing';
    endpoint.onLost(() => {
      if (this.lost()) onLost();
    });
    endpoint.play(wakeCommand(this.media.prompts)).catch(() => undefined);
    return endpoint.sdp;
  }

  closing(how: CallEnding, status: number): Promise<void> | undefined {
    const endpoint = this.endpoint;
    if (this.state !== 'playing' || !endpoint) return undefined;
    const prompt = closingPromptFor(how, status);
    const plan = prompt && closingCommand(prompt, this.media.prompts);
    if (!plan) return undefined;
    this.state = 'closing';
    this.log.info({ prompt, maxMs: plan.maxMs }, 'playing the closing prompt before the final response');
    return new Promise<void>((resolve) => {
      this.closingDone = () => {
        this.closingDone = undefined;
        clearTimeout(this.closingTimer);
        this.closingTimer = undefined;
        resolve();
      };
      this.closingTimer = setTimeout(() => this.closingDone?.(), plan.maxMs);
      endpoint.stopPlaying()
        .then(() => endpoint.play(plan.command))
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'closing prompt not played'))
        .finally(() => this.closingDone?.());
    });
  }

  release(): void {
    if (this.state === 'released') return;
    this.state = 'released';
    this.closingDone?.();
    const endpoint = this.endpoint;
    this.endpoint = undefined;
    if (endpoint) void endpoint.release();
  }

  /** FreeSWITCH dropped the endpoint: the call goes on without media (a closing prompt ends at once). */
  private lost(): boolean {
    if (this.state === 'released') return false;
    this.state = 'lost';
    this.endpoint = undefined;
    this.media.unavailable('MEDIA_LOST', 'FreeSWITCH dropped the announcement endpoint', this.callId);
    this.log.warn({ code: 'MEDIA_LOST' }, 'announcement lost: the call goes on without media');
    this.closingDone?.();
    return true;
  }
}
