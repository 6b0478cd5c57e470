/** The consent vocabulary and record shapes of the topic contract (docs/DESIGN.md). Pure data, no behaviour. */

export const PURPOSES = ['MARKETING', 'ANALYTICS', 'THIRD_PARTY'] as const;
export type Purpose = (typeof PURPOSES)[number];

export const CHANNELS = ['VOICE', 'CHAT', 'EMAIL', 'SMS', 'MESSAGING'] as const;
export type Channel = (typeof CHANNELS)[number];

export const CONSENT_SOURCES = ['WEB', 'PHONE', 'IVR', 'AGENT', 'API', 'GENESYS', 'IMPORT'] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

export const COMPLIANCE_STATUSES = ['FULLY_OPTED_IN', 'PARTIAL_OPT_IN', 'FULLY_OPTED_OUT'] as const;
export type ComplianceStatus = (typeof COMPLIANCE_STATUSES)[number];

export const IDENTIFIER_KINDS = ['CONTACT_ID', 'EMAIL', 'PHONE', 'EXTERNAL_ID'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];
export const LINK_STRENGTHS = ['CERTAIN', 'STRONG', 'WEAK'] as const;
export type LinkStrength = (typeof LINK_STRENGTHS)[number];

/** How a customer was found through the identity graph (domain/identity.ts); CONFLICT: identifiers point at different customers. */
export interface Resolution {
  identifier: IdentifierKind;
  link: LinkStrength | 'CONFLICT';
}

export interface PurposeConsent {
  purpose: Purpose;
  granted: boolean;
  /** null: the purpose as a whole; otherwise an override for one channel. */
  channel: Channel | null;
}

export interface ConsentEvent {
  eventId: string;
  customerId: string;
  /** When the person gave or withdrew consent (epoch ms); decides order, not arrival. */
  capturedAt: number;
  source: ConsentSource;
  purposes: PurposeConsent[];
  /** Set when the statement named an identifier (e-mail, phone), resolved to this customer. */
  resolvedBy?: Resolution | null;
}

/** One consent flag as last captured. */
export interface ConsentEntry {
  granted: boolean;
  capturedAt: number;
  source: ConsentSource;
  eventId: string;
}

export interface ChannelOverride extends ConsentEntry {
  channel: Channel;
}

/** A purpose may have channel overrides without a purpose-level entry of its own. */
export interface PurposeState {
  purpose: Purpose;
  entry: ConsentEntry | null;
  channels: ChannelOverride[];
}

export interface ConsentState {
  customerId: string;
  purposes: PurposeState[];
  complianceStatus: ComplianceStatus;
  /** Increments on every applied change; never on a duplicate or stale event. */
  version: number;
  updatedAt: number;
}

export interface Participant {
  participantId: string;
  purpose: string;
  name: string | null;
  address: string | null;
  userId: string | null;
}

export interface ConversationRecord {
  recordId: string;
  conversationId: string;
  customerId: string | null;
  channel: Channel;
  occurredAt: number;
  kind: string;
  participants: Participant[];
  ani: string | null;
  dnis: string | null;
  attributes: Record<string, string>;
  transcript: string | null;
  /** Set when the identity graph found the customer (or found a CONFLICT); absent or null when the record named it. */
  resolvedBy?: Resolution | null;
}

export interface ExportRecord extends ConversationRecord {
  exportJobId: string;
  exportVersion: number;
}

export const DECISION_REASONS = [
  'CONSENT_GRANTED',
  'CONSENT_WITHDRAWN',
  'CONSENT_UNKNOWN',
  'NO_SUBJECT',
  'CONSENT_UNCONFIRMED',
  'CUSTOMER_ERASED',
  /** The record's identifiers point at different customers (a shared or recycled address). */
  'IDENTITY_CONFLICT',
  /** Consent permits it, but the customer was found through a weak link only (a phone number). */
  'IDENTITY_WEAK',
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

export type Outcome = 'FORWARDED' | 'BLOCKED';

export interface Decision {
  recordId: string;
  customerId: string | null;
  conversationId: string;
  sink: string;
  outcome: Outcome;
  reason: DecisionReason;
  /** The purposes whose consent was missing or withdrawn (empty when forwarded). */
  deniedPurposes: Purpose[];
  policyVersion: string;
  consentVersion: number | null;
  decidedAt: number;
  inputTopic: string;
  inputPartition: number;
  inputOffset: string;
  /** The policy generation whose sinks the decision is about. */
  generation: number;
  /** Set when `consentgate replay` decided the record (building a new generation). */
  replayId: string | null;
  /** How the record's customer was resolved; null when the record named its customer. */
  resolvedBy: Resolution | null;
}

/** A per-(customer, purpose) data key of crypto-shredding; the key store mints and destroys them. */
export interface DataKey {
  keyId: string;
  key: Buffer;
}
