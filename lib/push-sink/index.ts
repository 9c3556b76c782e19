export { startPushSink, type PushSink, type PushSinkOptions, type ReceivedPush } from './push-sink.js';
export { generateApnsTestKey, type ApnsTestKey } from './apns-test-key.js';
export {
  loadPushSinkRules,
  parsePushSinkRules,
  type PushSinkRule,
  type SinkResponse,
} from './rules.js';
export { shellQuote, type HookExit, type OnPushHookOptions } from './on-push-hook.js';
export { selfSignedCertificate, type SinkCertificate } from './tls-cert.js';
