/** The validated configuration. Its documentation and defaults live in config/pushwake.yaml. */

export type ListenTransport = 'udp' | 'tcp' | 'tls';

export interface SipListen {
  address: string;
  port: number;
  transports: ListenTransport[];
  /** TLS port when `tls` is listed; default 5061 */
  tlsPort?: number;
}

/** One more iOS app: the .p8 key (or the push certificate) that may push to its topics. */
export interface ApnsApp {
  topics: string[];
  keyFile?: string;
  keyId?: string;
  teamId?: string;
  /** Certificate-based auth: .p12/.pfx, or a PEM certificate (its key in certKeyFile, or in the same file). */
  certFile?: string;
  certKeyFile?: string;
  certPassphrase?: string;
}

/** The wake prompt looped until the call is settled, or played once and then the ringback. */
export type WakePlayback = 'loop' | 'once-then-ringback';

export type EndedNoticeMode = 'invite-cancel' | 'message' | 'push' | 'off';

export interface PushwakeConfig {
  sip: {
    listen: SipListen[];
    advertisedHost: string;
    advertisedTransport: '' | ListenTransport;
    tlsCertFile: string;
    tlsKeyFile: string;
    tlsCaFile: string;
    tlsWatchFiles: boolean;
  };
  engine: {
    mode: 'embedded' | 'external';
    /** embedded: how pushwake's own drachtio-srf reaches the engine */
    appLink: 'in-process' | 'tcp';
    host: string;
    port: number;
    secret: string;
    maxMessageBytes: number;
    perSourceRatePerSec: number;
    trustedSourceRatePerSec: number;
    untrustedRatePerSec: number;
    tcpHeaderTimeoutMs: number;
    tcpIdleMs: number;
    connectTimeoutMs: number;
    maxConnections: number;
    udpReceiveBufferBytes: number;
    maxTransactions: number;
  };
  upstream: {
    registrar: string;
    registerExpires: number;
    trustedSources: string[];
    registerTimeoutMs: number;
  };
  registration: {
    tokenHeader: string;
    tokenParam: string;
    alertTokenHeader: string;
    alertTokenParam: string;
    defaultTopic: string;
    defaultEnvironment: 'production' | 'development';
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    contactUserPrefix: string;
  };
  apns: {
    certFile: string;
    certKeyFile: string;
    certPassphrase: string;
    keyFile: string;
    keyId: string;
    teamId: string;
    host: string;
    port: number;
    caFile: string;
    requestTimeoutMs: number;
    ttlSeconds: number;
    retryBaseDelayMs: number;
    retryMaxAttempts: number;
    topics: string[];
    apps: ApnsApp[];
  };
  fcm: { serviceAccountFile: string; moreServiceAccountFiles: string[]; endpoint: string; tokenUri: string; caFile: string; requestTimeoutMs: number };
  call: {
    wakeTimeoutMs: number;
    ringTimeoutMs: number;
    sendRinging: boolean;
    maxParkedCalls: number;
    retryAfterSeconds: number;
    skipPushWithinSeconds: number;
    pushHintHeader: string;
    pushHintParam: string;
    callUuidHeader: string;
    payloadTemplate: Record<string, unknown>;
  };
  alerts: {
    missedCall: boolean;
    answeredElsewhere: boolean;
    ttlSeconds: number;
    missedCallTemplate: Record<string, unknown>;
    answeredElsewhereTemplate: Record<string, unknown>;
  };
  devices: { suspectAfterUnansweredPushes: number; suspectedPushIntervalSeconds: number; maxVoipPushesPerMinute: number };
  endedNotice: { mode: EndedNoticeMode; windowSeconds: number };
  media: {
    enabled: boolean;
    eventSocket: string;
    eventSocketSecret: string;
    profile: string;
    sipAddress: string;
    callbackListen: string;
    callbackAdvertise: string;
    setupTimeoutMs: number;
    maxAnnouncements: number;
    wakePrompt: string;
    wakePlayback: WakePlayback;
    ringback: string;
    unreachablePrompt: string;
    pushFailedPrompt: string;
    closingPromptMaxMs: number;
  };
  store: { kind: 'embedded' | 'redis'; path: string; url: string; keyPrefix: string; sentinels: string[]; sentinelMasterName: string; unavailableRetryAfterSeconds: number };
  cluster: { nodeId: string; relayHost: string; secret: string; nodeTimeoutSeconds: number };
  admin: { listen: string; token: string };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'; format: 'auto' | 'json' | 'pretty' };
}
