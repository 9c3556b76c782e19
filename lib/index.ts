/**
 * pushwake's public API: what `import ... from 'pushwake'` gives. Everything else under dist/ is
 * internal and may change in any release; this surface follows semver (see CHANGELOG.md).
 *
 *   const pushwake = await createPushwake({ srf, upstream: { registrar: 'sip:pbx.example.com' }, apns: { ... } });
 *   pushwake.attach();          // before the app's own srf.invite / srf.use('register', ...) handlers
 */
export { createPushwake } from './module/create-pushwake.js';
export type {
  CallEndedEvent,
  CallEnding,
  DeviceRegisteredEvent,
  Pushwake,
  PushwakeEvents,
  SrfMiddleware,
} from './module/create-pushwake.js';
export type { PushwakeOptions, PushwakeSettings, Unclaimed } from './module/options.js';

export { ConfigError, loadConfig, resolveConfig } from './config/load.js';
export type { DeepPartial, LoadOptions } from './config/load.js';
export type { EndedNoticeMode, ListenTransport, PushwakeConfig, SipListen, WakePlayback } from './config/types.js';
export type { MediaUnavailableCode } from './media/announcement-media.js';

export { startEmbeddedEngine, TlsConfigError, ENGINE_VERSION } from './engine/index.js';
export type { EmbeddedEngine, EmbeddedEngineOptions, EngineLog, EngineLogLevel, TlsFiles, TransportName } from './engine/index.js';

export { openBindingStore, StoreUnavailableError } from './store/index.js';
export type { BindingStore, BindingStoreConfig, BindingStoreHooks } from './store/index.js';
export type { ApnsEnvironment, Binding, EndedNotice, Flow, PushProvider, PushToken, SipTransport } from './domain/binding.js';

export type { PushOutcome, PushSender, VoipPush } from './push/push-outcome.js';
