/** Each push to the sender of its provider: APNs for iOS, FCM for Android. */
import { pushFailure, type PushOutcome, type PushSender, type VoipPush } from './push-outcome.js';

export class RoutingSender implements PushSender {
  constructor(private readonly apns: PushSender, private readonly fcm: PushSender | undefined) {}

  send(push: VoipPush): Promise<PushOutcome> {
    if (push.token.provider === 'fcm') {
      return this.fcm ? this.fcm.send(push) : Promise.resolve(pushFailure('rejected', 'PUSH_NO_KEY', 'no FCM service account configured (fcm.serviceAccountFile)'));
    }
    return this.apns.send(push);
  }

  async close(): Promise<void> {
    await Promise.all([this.apns.close(), this.fcm?.close()]);
  }
}
