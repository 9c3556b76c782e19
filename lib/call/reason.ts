/** RFC 3326 Reason header values pushwake sends. */

const quote = (text: string): string => text.replace(/["\\\r\n]/g, '').slice(0, 120);

export function sipReason(cause: number, text: string): string {
  return `SIP;cause=${cause};text="${quote(text)}"`;
}

export const Reasons = {
  completedElsewhere: sipReason(200, 'Call completed elsewhere'),
  cancelled: sipReason(487, 'Call cancelled'),
  noDeviceWoke: sipReason(480, 'No device woke up in time'),
  pushFailed: sipReason(480, 'Push notification failed'),
  notAnswered: sipReason(480, 'No answer'),
  declinedElsewhere: (status: number, reason: string): string => sipReason(status, reason || 'Declined'),
} as const;

/** A Reason header from the network is passed on only if it looks like one (bounded, one line). */
export function sanitizeReason(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.trim();
  return v.length > 0 && v.length <= 256 && !/[\r\n]/.test(v) && /^[A-Za-z0-9.-]+\s*;/.test(v) ? v : undefined;
}
