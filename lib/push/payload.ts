import { MAX_VOIP_PAYLOAD_BYTES } from './push-outcome.js';

/**
 * Push payload templates.
 *
 * A template is a JSON object whose string values may hold `{{name}}` placeholders. A string
 * that is exactly one placeholder becomes the variable's typed value (`withVideo` stays a
 * boolean, which the Siprix flow of seed 004 requires: it reads `aps.withVideo` as a bool);
 * a placeholder inside a longer string is replaced by the value's text.
 *
 * Templates are checked once, when the config is loaded: unknown placeholders, placeholders in
 * keys, and templates that could render over the APNs size limit with the longest values the
 * variables may take are all refused there, not at call time.
 */

/** What a payload can say about a call. */
export interface PayloadVars {
  /** UUID the app reports to CallKit. */
  callUuid: string;
  /** SIP Call-ID of the call from the PBX. */
  callId: string;
  callerNumber: string;
  callerName: string;
  withVideo: boolean;
  /** Also sent in the INVITE (`X-PushHint`) so the app pairs the SIP call with the push. */
  pushHint: string;
  /** AOR of the called user. Default ''. */
  aor?: string;
  /** True for a "cancel push" (the call ended before the device answered). Default false. */
  cancel?: boolean;
  /** RFC 3326 Reason text of the ending, for cancel pushes. Default ''. */
  reason?: string;
}

export type PayloadVarName = keyof PayloadVars;

/**
 * Longest value each string variable may take, in code points. Values are cut to this length,
 * which is what bounds the rendered size (and a caller name has no business being longer).
 */
export const PAYLOAD_VAR_MAX_LENGTH: Readonly<Record<PayloadVarName, number>> = {
  callUuid: 64,
  callId: 256,
  callerNumber: 64,
  callerName: 128,
  withVideo: 5,
  pushHint: 128,
  aor: 256,
  cancel: 5,
  reason: 256,
};

const VAR_NAMES = new Set<string>(Object.keys(PAYLOAD_VAR_MAX_LENGTH));
const BOOLEAN_VARS = new Set<string>(['withVideo', 'cancel']);

export const DEFAULT_PAYLOAD_TEMPLATE = {
  aps: {
    callerNumber: '{{callerNumber}}',
    callerName: '{{callerName}}',
    withVideo: '{{withVideo}}',
    pushHint: '{{pushHint}}',
  },
  callUuid: '{{callUuid}}',
  callId: '{{callId}}',
} as const;


export type PayloadTemplateErrorCode =
  | 'NOT_AN_OBJECT'
  | 'NOT_JSON'
  | 'UNKNOWN_PLACEHOLDER'
  | 'PLACEHOLDER_IN_KEY'
  | 'PAYLOAD_TOO_LARGE';

export class PayloadTemplateError extends Error {
  override readonly name = 'PayloadTemplateError';
  constructor(
    readonly code: PayloadTemplateErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface PayloadTemplate {
  /** A fresh payload object. Throws PayloadTemplateError PAYLOAD_TOO_LARGE only if the size
   * check at compile time was wrong: a bug, never an input problem. */
  render(vars: PayloadVars): Record<string, unknown>;
  /** Largest size in bytes a rendering can reach. */
  readonly maxRenderedBytes: number;
}

type Part = { text: string } | { name: PayloadVarName };
type Node =
  | { kind: 'literal'; value: null | boolean | number | string }
  | { kind: 'variable'; name: PayloadVarName }
  | { kind: 'text'; parts: Part[] }
  | { kind: 'array'; items: Node[] }
  | { kind: 'object'; entries: Array<[string, Node]> };

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function compilePayloadTemplate(
  template: unknown,
  options: { maxBytes?: number } = {},
): PayloadTemplate {
  if (typeof template !== 'object' || template === null || Array.isArray(template)) {
    throw new PayloadTemplateError('NOT_AN_OBJECT', 'push payload template must be a JSON object');
  }
  const root = compileNode(template, '$');
  const maxBytes = options.maxBytes ?? MAX_VOIP_PAYLOAD_BYTES;
  const maxRenderedBytes = Buffer.byteLength(JSON.stringify(renderNode(root, worstCaseVars())));
  if (maxRenderedBytes > maxBytes) {
    throw new PayloadTemplateError(
      'PAYLOAD_TOO_LARGE',
      `push payload template can render up to ${maxRenderedBytes} bytes, over the ${maxBytes}-byte APNs limit`,
    );
  }
  return {
    maxRenderedBytes,
    render(vars: PayloadVars): Record<string, unknown> {
      const payload = renderNode(root, sanitizeVars(vars)) as Record<string, unknown>;
      const size = Buffer.byteLength(JSON.stringify(payload));
      if (size > maxBytes) {
        throw new PayloadTemplateError('PAYLOAD_TOO_LARGE', `push payload rendered to ${size} bytes`);
      }
      return payload;
    },
  };
}

function compileNode(value: unknown, path: string): Node {
  if (value === null || typeof value === 'boolean') return { kind: 'literal', value };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notJson(path, 'a non-finite number');
    return { kind: 'literal', value };
  }
  if (typeof value === 'string') return compileString(value, path);
  if (Array.isArray(value)) {
    return { kind: 'array', items: value.map((item, i) => compileNode(item, `${path}[${i}]`)) };
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries: Array<[string, Node]> = [];
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('{{')) {
        throw new PayloadTemplateError(
          'PLACEHOLDER_IN_KEY',
          `push payload template: placeholders are allowed in values only, not in the key "${key}" at ${path}`,
        );
      }
      entries.push([key, compileNode(child, `${path}.${key}`)]);
    }
    return { kind: 'object', entries };
  }
  throw notJson(path, typeof value);
}

function compileString(value: string, path: string): Node {
  const parts: Part[] = [];
  let last = 0;
  for (const match of value.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!VAR_NAMES.has(name)) {
      throw new PayloadTemplateError(
        'UNKNOWN_PLACEHOLDER',
        `push payload template: unknown placeholder {{${name}}} at ${path}; known: ${[...VAR_NAMES].join(', ')}`,
      );
    }
    const index = match.index ?? 0;
    if (index > last) parts.push({ text: value.slice(last, index) });
    parts.push({ name: name as PayloadVarName });
    last = index + match[0].length;
  }
  if (parts.length === 0) return { kind: 'literal', value };
  if (last < value.length) parts.push({ text: value.slice(last) });
  const [only] = parts;
  if (parts.length === 1 && only !== undefined && 'name' in only) {
    return { kind: 'variable', name: only.name };
  }
  return { kind: 'text', parts };
}

type Values = Record<PayloadVarName, string | boolean>;

function renderNode(node: Node, values: Values): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'variable':
      return values[node.name];
    case 'text':
      return node.parts.map((part) => ('text' in part ? part.text : String(values[part.name]))).join('');
    case 'array':
      return node.items.map((item) => renderNode(item, values));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, child] of node.entries) out[key] = renderNode(child, values);
      return out;
    }
  }
}

function sanitizeVars(vars: PayloadVars): Values {
  const raw: Record<PayloadVarName, string | boolean | undefined> = {
    callUuid: vars.callUuid,
    callId: vars.callId,
    callerNumber: vars.callerNumber,
    callerName: vars.callerName,
    withVideo: vars.withVideo,
    pushHint: vars.pushHint,
    aor: vars.aor,
    cancel: vars.cancel,
    reason: vars.reason,
  };
  const out = {} as Values;
  for (const name of Object.keys(raw) as PayloadVarName[]) {
    const value = raw[name];
    out[name] = BOOLEAN_VARS.has(name)
      ? value === true
      : cleanText(typeof value === 'string' ? value : '', PAYLOAD_VAR_MAX_LENGTH[name]);
  }
  return out;
}

// C0/C1 controls, line/paragraph separators and bidi overrides: they are what turns a caller
// name into a forged-looking display, and control characters cost six bytes each in JSON.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Printable, well-formed text of at most `maxCodePoints` code points. */
export function cleanText(value: string, maxCodePoints: number): string {
  const cleaned = value.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE_CHARS, ' ');
  const codePoints = Array.from(cleaned);
  return codePoints.length <= maxCodePoints ? cleaned : codePoints.slice(0, maxCodePoints).join('');
}

/** The longest values in bytes: every code point 4 bytes of UTF-8 (quotes would be 2). */
function worstCaseVars(): Values {
  const out = {} as Values;
  for (const name of Object.keys(PAYLOAD_VAR_MAX_LENGTH) as PayloadVarName[]) {
    out[name] = BOOLEAN_VARS.has(name) ? false : '\u{1F600}'.repeat(PAYLOAD_VAR_MAX_LENGTH[name]);
  }
  return out;
}

function notJson(path: string, what: string): PayloadTemplateError {
  return new PayloadTemplateError('NOT_JSON', `push payload template: ${what} at ${path} is not JSON`);
}
