/** Each push to the sender of its provider: APNs for iOS, FCM for Android. */
import { pushFailure, type PushOutcome, type PushSender, type VoipPush } from './push-outcome.js';

export class RoutingSender implements PushSender {
  /** FCM senders by Firebase project id. */
  private readonly fcm: Map<string, PushSender>;

  constructor(private readonly apns: PushSender, fcm: Map<string, PushSender>) {
    this.fcm = fcm;
  }

  send(push: VoipPush): Promise<PushOutcome> {
    if (push.token.provider === 'fcm') {
      const sender = this.fcm.get(push.token.topic);
      return sender ? sender.send(push) : Promise.resolve(pushFailure('rejected', 'PUSH_NO_KEY', `no FCM service account for project ${push.token.topic}`));
    }
    return this.apns.send(push);
  }

  async close(): Promise<void> {
    await Promise.all([this.apns.close(), ...[...this.fcm.values()].map((s) => s.close())]);
  }
}

/** The bundle id of an APNs topic (VoIP topics end in .voip). */
export const bundleOf = (topic: string): string => (topic.endsWith('.voip') ? topic.slice(0, -5) : topic);

/** APNs pushes to the key of their app: by topic, else the default key. */
export class TopicRoutedSender implements PushSender {
  private readonly byBundle = new Map<string, PushSender>();

  constructor(private readonly fallback: PushSender, apps: Array<{ topics: string[]; sender: PushSender }>) {
    for (const app of apps) for (const t of app.topics) this.byBundle.set(bundleOf(t), app.sender);
  }

  send(push: VoipPush): Promise<PushOutcome> {
    return (this.byBundle.get(bundleOf(push.token.topic)) ?? this.fallback).send(push);
  }

  async close(): Promise<void> {
    await Promise.all([this.fallback, ...new Set(this.byBundle.values())].map((s) => s.close()));
  }
}
