/**
 * Shapes of the Genesys Cloud entities the simulator serves, named and spelled as in the public API
 * (purecloud-platform-client-v2 `index.d.ts`). Only the fields the simulator fills are declared.
 */

/** Reads the simulated time in epoch ms. */
export type Clock = () => number;

export interface EntityRef {
  id: string;
  name?: string;
  selfUri?: string;
}

export interface PhoneNumber {
  display?: string;
  e164?: string;
  countryCode?: string;
  extension?: string;
  acceptsSMS?: boolean;
  userInput?: string;
}

export interface ContactAddress {
  address1?: string;
  address2?: string;
  city?: string;
  state?: string;
  postalCode?: string;
  countryCode?: string;
}

export interface ExternalId {
  externalSource?: EntityRef;
  value: string;
}

export interface ExternalContact {
  id: string;
  division?: EntityRef;
  type?: 'Curated' | 'Ephemeral' | 'Identified';
  firstName?: string;
  middleName?: string;
  lastName?: string;
  salutation?: string;
  title?: string;
  workPhone?: PhoneNumber;
  cellPhone?: PhoneNumber;
  homePhone?: PhoneNumber;
  otherPhone?: PhoneNumber;
  workEmail?: string;
  personalEmail?: string;
  otherEmail?: string;
  address?: ContactAddress;
  surveyOptOut?: boolean;
  externalSystemUrl?: string;
  externalIds?: ExternalId[];
  /** Reference to the DataSchema that `customFields` follow. */
  schema?: { id: string; version: number; selfUri?: string };
  customFields?: Record<string, unknown>;
  createDate: string;
  modifyDate: string;
  selfUri: string;
}

export interface DataSchema {
  id: string;
  name: string;
  version: number;
  appliesTo: string[];
  enabled: boolean;
  createdBy: EntityRef;
  dateCreated: string;
  jsonSchema: {
    $schema: string;
    title: string;
    description: string;
    type: 'object';
    required: string[];
    properties: Record<string, SchemaProperty>;
    additionalProperties: boolean | object;
  };
  selfUri: string;
}

/** A custom-field definition: `allOf[0].$ref` names the core type, e.g. `#/definitions/checkbox`. */
export interface SchemaProperty {
  allOf: { $ref: string }[];
  title: string;
  description?: string;
  maxLength?: number;
  minLength?: number;
  enum?: string[];
}

export type MediaType = 'voice' | 'chat' | 'email' | 'message' | 'callback';

export interface AnalyticsSegment {
  segmentStart: string;
  segmentEnd?: string;
  segmentType: 'alert' | 'interact' | 'hold' | 'wrapup';
  queueId?: string;
  disconnectType?: string;
  wrapUpCode?: string;
  conference: boolean;
}

export interface AnalyticsMetric {
  name: string;
  value: number;
  emitDate: string;
}

export interface AnalyticsSession {
  sessionId: string;
  mediaType: MediaType;
  direction: 'inbound' | 'outbound';
  ani?: string;
  dnis?: string;
  provider: string;
  peerId?: string;
  requestedRoutings?: string[];
  usedRouting?: string;
  selectedAgentId?: string;
  metrics: AnalyticsMetric[];
  segments: AnalyticsSegment[];
}

export interface AnalyticsParticipant {
  participantId: string;
  participantName?: string;
  purpose: 'customer' | 'agent' | 'acd' | 'ivr';
  userId?: string;
  externalContactId?: string;
  sessions: AnalyticsSession[];
}

/** One conversation of the analytics detail store (AnalyticsConversation). */
export interface AnalyticsConversation {
  conversationId: string;
  conversationStart: string;
  conversationEnd?: string;
  originatingDirection: 'inbound' | 'outbound';
  divisionIds: string[];
  participants: AnalyticsParticipant[];
}

export type OAuthGrantType = 'CODE' | 'TOKEN' | 'SAML2-BEARER' | 'PASSWORD' | 'CLIENT-CREDENTIALS';

export interface OAuthClient {
  id: string;
  name: string;
  description?: string;
  accessTokenValiditySeconds: number;
  registeredRedirectUri: string[];
  /** Held by the org to check logins; never served by the REST API. */
  secret?: string;
  roleIds: string[];
  dateCreated: string;
  dateModified: string;
  createdBy: EntityRef;
  modifiedBy: EntityRef;
  authorizedGrantType: OAuthGrantType;
  scope: string[];
  roleDivisions: { roleId: string; divisionId: string }[];
  state: 'active' | 'disabled' | 'inactive';
  dateToDelete?: string;
  selfUri: string;
}

export interface IntegrationConfiguration {
  id: string;
  name: string;
  version: number;
  properties: Record<string, unknown>;
  advanced: Record<string, unknown>;
  notes: string;
  credentials: Record<string, { id: string; name?: string; type?: string }>;
  selfUri: string;
}

export interface Integration {
  id: string;
  name: string;
  integrationType: { id: string; name: string; description: string; provider: string; category: string; selfUri: string };
  notes: string;
  intendedState: 'ENABLED' | 'DISABLED' | 'DELETED';
  config: { current: IntegrationConfiguration };
  reportedState: { code: 'ACTIVE' | 'ACTIVATING' | 'INACTIVE' | 'DEACTIVATING' | 'ERROR'; effective: string; detail: object; lastUpdated: string };
  attributes: Record<string, string>;
  selfUri: string;
}

export interface PropertyChange {
  property: string;
  oldValues?: string[];
  newValues?: string[];
}

export type AuditAction = 'Create' | 'Update' | 'Delete';

/** An audit record as served by `GET /api/v2/audits/query/{id}/results` (AuditLogMessage). */
export interface AuditLogMessage {
  id: string;
  userHomeOrgId: string;
  user: EntityRef;
  client: EntityRef;
  remoteIp: string[];
  serviceName: string;
  level: 'USER' | 'SYSTEM';
  eventDate: string;
  message: { localizableMessageCode: string; message: string; messageWithParams: string; messageParams: Record<string, string> };
  action: AuditAction;
  entity: EntityRef;
  entityType: string;
  status: 'SUCCESS' | 'FAILURE';
  application: string;
  propertyChanges: PropertyChange[];
  context: Record<string, string>;
}

export type GdprRequestType = 'GDPR_EXPORT' | 'GDPR_UPDATE' | 'GDPR_DELETE';

export interface GdprSubject {
  name?: string;
  userId?: string;
  externalContactId?: string;
  dialerContactId?: unknown;
  externalId?: string;
  socialHandle?: unknown;
  addresses?: string[];
  phoneNumbers?: string[];
  emailAddresses?: string[];
}

export interface GdprRequest {
  id: string;
  name?: string;
  createdBy: EntityRef;
  replacementTerms?: { type: string; existingValue: string; updatedValue: string }[];
  requestType: GdprRequestType;
  createdDate: string;
  status: 'INITIATED' | 'SEARCHING' | 'UPDATING' | 'DELETING' | 'COMPLETED' | 'ERROR' | 'FINALIZING';
  subject: GdprSubject;
  resultsUrl?: string;
  selfUri: string;
}

/** What `traffic()` created, in creation order; the same seed and counts give the same ids. */
export interface TrafficSummary {
  seed: number;
  contactIds: string[];
  /** Contacts created without ComplianceConsent fields. */
  contactIdsWithoutConsent: string[];
  conversationIds: string[];
  /** Conversations whose customer has no external contact (customerId null). */
  anonymousConversationIds: string[];
  /** Contact id of each consent change, in order. */
  consentChangeContactIds: string[];
}
