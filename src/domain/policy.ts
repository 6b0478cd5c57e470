import type { Channel, ConsentState, DecisionReason, Purpose, Resolution } from './types.ts';

/**
 * keep; drop; pseudonymize (HMAC, stable); encrypt (one pipeline key); shred (AES-256-GCM under a data key of the
 * customer and the sink's purpose, destroyed on erasure: crypto-shredding).
 */
export const FIELD_ACTIONS = ['keep', 'drop', 'pseudonymize', 'encrypt', 'shred'] as const;
export type FieldAction = (typeof FIELD_ACTIONS)[number];

/** Personal-data fields of a conversation record that field rules govern; ids are always kept. */
export const PERSONAL_FIELDS = ['participants.name', 'participants.address', 'ani', 'dnis', 'attributes', 'transcript'] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

export interface SinkPolicy {
  /** Sink name as in topologies (crm, analytics, thirdparty). */
  name: string;
  /** Every one must be granted for a record to reach the sink. */
  requires: Purpose[];
  /** What happens to each personal field; a field not listed gets `defaultAction`. */
  fields: Partial<Record<PersonalField, FieldAction>>;
  defaultAction: FieldAction;
  /** "postgres": the records also land in the consent-aware analytics store (domain/analyticsStore.ts). */
  store?: 'postgres';
}

export interface Policy {
  version: string;
  /** The generation of sink topics it writes; a new generation is built by `consentgate replay` (issue 14). */
  generation: number;
  sinks: SinkPolicy[];
  /** Purposes whose withdrawal during a live conversation ends it (see sessionGuard.ts). */
  sessionGuard: { purposes: Purpose[] };
}

export type Grant = 'granted' | 'withdrawn' | 'unknown';

/** Whether a sink has a shred rule (its records are forwarded with a data key bound, else not at all). */
export const shreds = (s: SinkPolicy): boolean => [s.defaultAction, ...Object.values(s.fields)].includes('shred');

/** Sinks with a shred rule, and the purpose whose data key they use (the first they require). */
export function shreddingSinks(policy: Policy): { sink: SinkPolicy; purpose: Purpose }[] {
  return policy.sinks
    .filter(shreds)
    .map((sink) => ({ sink, purpose: sink.requires[0]! }));
}

/** The flag that governs `purpose` on `channel`: the channel override if there is one, else the purpose level. */
export function effectiveGrant(state: ConsentState | undefined, purpose: Purpose, channel: Channel): Grant {
  const slot = state?.purposes.find((p) => p.purpose === purpose);
  if (!slot) return 'unknown';
  const entry = slot.channels.find((c) => c.channel === channel) ?? slot.entry;
  if (!entry) return 'unknown';
  return entry.granted ? 'granted' : 'withdrawn';
}

export type Verdict =
  | { kind: 'forward'; consentVersion: number }
  | { kind: 'block'; reason: DecisionReason; denied: Purpose[]; consentVersion: number | null };

/**
 * Decides one record for one sink. Fails closed: no subject, identifiers pointing at different customers, no known
 * state, or any required purpose not granted → block. A withdrawal outranks an unknown purpose as the reason. A
 * customer found through a weak link only (a phone number) is never forwarded to: IDENTITY_WEAK, once consent
 * would have allowed it (a withdrawal still reads as one).
 */
export function evaluate(sink: SinkPolicy, subject: { customerId: string | null; channel: Channel; resolvedBy?: Resolution | null }, state: ConsentState | undefined): Verdict {
  if (subject.resolvedBy?.link === 'CONFLICT') {
    return { kind: 'block', reason: 'IDENTITY_CONFLICT', denied: [...sink.requires], consentVersion: null };
  }
  if (subject.customerId === null || subject.customerId === '') {
    return { kind: 'block', reason: 'NO_SUBJECT', denied: [...sink.requires], consentVersion: null };
  }
  if (!state) return { kind: 'block', reason: 'CONSENT_UNKNOWN', denied: [...sink.requires], consentVersion: null };
  const grants = sink.requires.map((purpose) => ({ purpose, grant: effectiveGrant(state, purpose, subject.channel) }));
  const denied = grants.filter((g) => g.grant !== 'granted');
  if (denied.length === 0) {
    if (subject.resolvedBy?.link === 'WEAK') return { kind: 'block', reason: 'IDENTITY_WEAK', denied: [], consentVersion: state.version };
    return { kind: 'forward', consentVersion: state.version };
  }
  const reason = denied.some((g) => g.grant === 'withdrawn') ? 'CONSENT_WITHDRAWN' : 'CONSENT_UNKNOWN';
  return { kind: 'block', reason, denied: denied.map((g) => g.purpose), consentVersion: state.version };
}
