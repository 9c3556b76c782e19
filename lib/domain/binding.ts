/**
 * A Binding is what pushwake knows about one device of one user (AOR): how to reach it while it
 * is awake (its contact and the flow its REGISTER came on) and how to wake it (its PushToken).
 *
 * A Binding is stored only after the upstream registrar answered the relayed REGISTER with 2xx:
 * that 2xx is what authenticates the device and its push token.
 */

export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** The connection a device's REGISTER arrived on. Requests to the device reuse it. */
export interface Flow {
  transport: SipTransport;
  sourceAddress: string;
  sourcePort: number;
}

export type PushProvider = 'apns' | 'fcm';
export type ApnsEnvironment = 'production' | 'development';

/** Everything needed to send one VoIP push to one device. */
export interface PushToken {
  provider: PushProvider;
  /** APNs device token, lower-case hex; or the FCM registration token. */
  token: string;
  /** APNs topic, e.g. `com.example.app.voip`; or the Firebase project id. */
  topic: string;
  environment: ApnsEnvironment;
}

export interface Binding {
  /** Address of record, normalised: `sip:user@domain` (no params, lower-case host). */
  aor: string;
  /** Stable identity of the device within the AOR: instance id, else token, else contact. */
  deviceKey: string;
  /** `+sip.instance` value without the angle brackets and quotes, when the device sent one. */
  instanceId?: string;
  /** The device's own Contact URI, as it registered it. */
  contact: string;
  /** The flow the device's latest REGISTER came on. */
  flow: Flow;
  /** Absent when the device registered without (valid) push data. */
  push?: PushToken;
  /** The app's regular (alert) APNs token, for missed-call alert pushes; same topic without .voip. */
  alertToken?: string;
  /**
   * User part of the Contact pushwake registered upstream for this device, e.g. `pw-3f2a9c1e`.
   * The PBX sends this device's calls to `sip:<localContactUser>@<pushwake>`.
   */
  localContactUser: string;
  /** Call-ID of the upstream registration (the device's own Call-ID). */
  upstreamCallId: string;
  /** Epoch ms: until when the device's own registration (and so its flow) is usable. */
  deviceExpiresAt: number;
  /** Epoch ms: until when the upstream registrar routes to pushwake; the binding dies then. */
  upstreamExpiresAt: number;
  /** Epoch ms of the first successful registration of this device key. */
  createdAt: number;
  /** Epoch ms of the latest successful registration. */
  registeredAt: number;
  /**
   * In a cluster: the node whose engine holds `flow` (the phone's connection), and where other
   * nodes send the phone's INVITEs for it to deliver. Absent on a single node.
   */
  edge?: Edge;
}

/** A cluster node as the holder of phones' flows. */
export interface Edge {
  nodeId: string;
  /** host:port other nodes reach it at. */
  host: string;
  transport: 'udp' | 'tcp' | 'tls';
}

/** A binding may be pushed only while its upstream registration is alive. */
export function isWakeable(b: Binding, now: number): boolean {
  return b.push !== undefined && b.upstreamExpiresAt > now;
}

/** The device's own registration is alive, so its flow may still be open. */
export function isAwake(b: Binding, now: number): boolean {
  return b.deviceExpiresAt > now;
}

/**
 * An EndedNotice is owed to a device that was pushed for a call which ended before the device
 * got a leg of it. It is delivered when the device next registers, within a window.
 */
export interface EndedNotice {
  aor: string;
  deviceKey: string;
  /** The call's UUID, as carried in the push payload. */
  callUuid: string;
  /** SIP Call-ID of the call from the PBX. */
  callId: string;
  pushHint: string;
  /** The RFC 3326 Reason value to carry, e.g. `SIP;cause=487;text="Call cancelled"`. */
  reason: string;
  /** Caller as shown in the push, so an INVITE+CANCEL notice can show it. */
  callerNumber: string;
  callerName: string;
  /** Epoch ms after which the notice is no longer worth delivering. */
  expiresAt: number;
}
