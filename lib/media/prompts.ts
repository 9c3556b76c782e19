/**
 * What the caller hears, decided from the config and the call's state alone: the FreeSWITCH
 * application that plays the wake prompt, and the closing prompt (if any) an ending gets before
 * its final response. Pure.
 */
import type { CallEnding } from '../call/call-types.js';
import type { PushwakeConfig } from '../config/types.js';

/** The media.* keys that say what the caller hears (config/pushwake.yaml documents each). */
export type PromptSettings = Pick<PushwakeConfig['media'], 'wakePrompt' | 'wakePlayback' | 'ringback' | 'unreachablePrompt' | 'pushFailedPrompt' | 'closingPromptMaxMs'>;

/** A FreeSWITCH dialplan application and its argument, run on the endpoint. */
export interface PlayCommand {
  app: 'playback' | 'endless_playback';
  arg: string;
}

/**
 * The wake prompt: looped (`endless_playback` restarts it until it is broken), or once and then
 * the ringback, as one playback of both (`file_string://`, so one break stops either).
 */
export function wakeCommand(s: PromptSettings): PlayCommand {
  if (s.wakePlayback === 'loop') return { app: 'endless_playback', arg: s.wakePrompt };
  return { app: 'playback', arg: `file_string://${s.wakePrompt}!${s.ringback}` };
}

/** Which closing prompt an ending plays before its final response: none for most. */
export type ClosingPrompt = 'unreachable' | 'pushFailed';

/**
 * Nothing woke (wake timeout), every push failed, or every device that was tried could not be
 * reached (the best answer was 480): the caller is told the person is not reachable. A decline,
 * busy, ring timeout, cancel or shutdown gets its final response at once, as without media.
 */
export function closingPromptFor(how: CallEnding, status: number): ClosingPrompt | undefined {
  if (how === 'wake-timeout') return 'unreachable';
  if (how === 'push-failed') return 'pushFailed';
  if (how === 'all-legs-failed' && status === 480) return 'unreachable';
  return undefined;
}

/** The file or tone a closing prompt plays, and how long at most; undefined: nothing to play. */
export function closingCommand(prompt: ClosingPrompt, s: PromptSettings): { command: PlayCommand; maxMs: number } | undefined {
  const file = prompt === 'pushFailed' ? s.pushFailedPrompt || s.unreachablePrompt : s.unreachablePrompt;
  if (!file || s.closingPromptMaxMs <= 0) return undefined;
  return { command: { app: 'playback', arg: file }, maxMs: s.closingPromptMaxMs };
}
