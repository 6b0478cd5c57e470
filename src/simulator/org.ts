import { AdminStore, auditEvent } from './admin.ts';
import { ContactStore, contactEvent, type ContactInput } from './contacts.ts';
import { analyticsConversation, ConversationStore, customerEndEvent, customerStartEvent, type ConversationFacts, type StartConversation } from './conversations.ts';
import type { Outcome } from './errors.ts';
import { GdprStore } from './gdpr.ts';
import { iso } from './ids.ts';
import { JobStore } from './jobs.ts';
import { COMPLIANCE_CONSENT_FIELDS, complianceConsentSchema } from './schema.ts';
import { EVENTBRIDGE_SOURCE, SEED_CONTACTS, type OrgSeed } from './seed.ts';
import type { AnalyticsConversation, AuditLogMessage, Clock, DataSchema, ExternalContact } from './types.ts';

export interface OrgOptions {
  seed: OrgSeed;
  clock: Clock;
  /** Runs `fn` after `ms` of real time (timers are owned by the caller so that close() can clear them). */
  schedule: (ms: number, fn: () => void) => void;
  /** Receives every notification the org raises. */
  publish: (topicName: string, eventBody: unknown) => void;
  jobDelayMs: number;
  jobTtlMs: number;
  eventBridgeFilter: string[];
}

export interface ConsentChange {
  marketing?: boolean;
  analytics?: boolean;
  thirdParty?: boolean;
  source?: string;
  at?: number;
}

export interface AuditQueryMeta {
  interval: string;
  serviceName: string;
  filters: { property: string; value: string }[];
  sort: { name: string; sortOrder: string }[];
}

/** The simulated Genesys Cloud organization: its entities, their notifications and its asynchronous jobs. */
export class Org {
  readonly seed: OrgSeed;
  readonly schemas = new Map<string, DataSchema>();
  readonly contacts: ContactStore;
  readonly conversations: ConversationStore;
  readonly admin: AdminStore;
  readonly gdpr: GdprStore;
  readonly analyticsJobs: JobStore<AnalyticsConversation, Record<string, never>>;
  readonly auditQueries: JobStore<AuditLogMessage, AuditQueryMeta>;
  private seeding = true;

  constructor(private readonly o: OrgOptions) {
    const { seed, clock, schedule } = o;
    this.seed = seed;
    const newId = seed.newId;
    const schema = complianceConsentSchema(seed.schemaId, { id: seed.admin.userId, selfUri: `/api/v2/users/${seed.admin.userId}` }, iso(clock()));
    this.schemas.set(schema.id, schema);
    this.contacts = new ContactStore({ clock, newId, divisionId: seed.divisionId, schemas: this.schemas, onChange: (c) => this.raise(`v2.externalcontacts.contacts.${c.id}`, contactEvent(c)) });
    this.conversations = new ConversationStore({ clock, newId, divisionId: seed.divisionId, queueIds: seed.queueIds, agents: seed.agents });
    this.admin = new AdminStore({ clock, newId, orgId: seed.orgId, actor: seed.admin, onAudit: (a) => this.raise(`v2.audits.entitytype.${a.entityType}.entityid.${a.entity.id}`, auditEvent(a)) });
    this.gdpr = new GdprStore({
      clock, newId, schedule, delayMs: o.jobDelayMs, createdBy: { id: seed.admin.userId, selfUri: `/api/v2/users/${seed.admin.userId}` },
      onComplete: (r) => {
        if (r.requestType === 'GDPR_DELETE' && r.subject.externalContactId) this.contacts.delete(r.subject.externalContactId);
      },
    });
    this.analyticsJobs = new JobStore({ clock, newId, schedule, delayMs: o.jobDelayMs, ttlMs: o.jobTtlMs });
    this.auditQueries = new JobStore({ clock, newId, schedule, delayMs: o.jobDelayMs, ttlMs: o.jobTtlMs });
    this.seedDefaults();
    this.seeding = false;
  }

  /** Creates or updates a contact: given fields replace stored ones, custom fields are merged. Throws on invalid fields. */
  upsertContact(patch: Partial<ExternalContact> & { id?: string }): ExternalContact {
    const existing = patch.id ? this.contacts.get(patch.id) : undefined;
    const input = { ...existing, ...patch, customFields: { ...existing?.customFields, ...patch.customFields }, schema: patch.schema ?? existing?.schema } as ContactInput;
    const saved = this.contacts.save(input, patch.id);
    if (!saved.ok) throw new Error(`upsertContact: ${saved.problem.message}`);
    return saved.value;
  }

  /** Writes the ComplianceConsent custom fields (timestamp always, others when given). Throws if the contact is unknown. */
  setConsent(contactId: string, c: ConsentChange): ExternalContact {
    if (!this.contacts.get(contactId)) throw new Error(`setConsent: no external contact ${contactId}`);
    const F = COMPLIANCE_CONSENT_FIELDS;
    const fields: Record<string, unknown> = { [F.lastConsentAt]: iso(c.at ?? this.o.clock()) };
    if (c.marketing !== undefined) fields[F.marketing] = c.marketing;
    if (c.analytics !== undefined) fields[F.analytics] = c.analytics;
    if (c.thirdParty !== undefined) fields[F.thirdParty] = c.thirdParty;
    if (c.source !== undefined) fields[F.source] = c.source;
    const schema = this.schemas.get(this.seed.schemaId)!;
    return this.upsertContact({ id: contactId, schema: { id: schema.id, version: schema.version }, customFields: fields });
  }

  startConversation(o: StartConversation): ConversationFacts {
    const name = o.customerName ?? (o.customerId ? nameOf(this.contacts.get(o.customerId)) : undefined);
    const facts = this.conversations.start({ ...o, ...(name ? { customerName: name } : {}) });
    this.raise(`v2.detail.events.conversation.${facts.id}.customer.start`, customerStartEvent(facts));
    return facts;
  }

  endConversation(id: string, o: { at?: number; disconnectType?: string } = {}): Outcome<ConversationFacts> {
    const ended = this.conversations.end(id, o);
    if (ended.ok) this.raise(`v2.detail.events.conversation.${id}.customer.end`, customerEndEvent(ended.value));
    return ended;
  }

  conversation(id: string): AnalyticsConversation | undefined {
    const f = this.conversations.get(id);
    return f && analyticsConversation(f);
  }

  /** Audit entries matching a query: service, interval and EntityType/EntityId/Action/UserId filters, newest first by default. */
  auditsMatching(q: AuditQueryMeta): AuditLogMessage[] {
    const [from, to] = q.interval.split('/').map((s) => Date.parse(s));
    const field: Record<string, (a: AuditLogMessage) => string> = { EntityType: (a) => a.entityType, EntityId: (a) => a.entity.id, Action: (a) => a.action, UserId: (a) => a.user.id };
    const hits = this.admin.auditLog.filter((a) => {
      const t = Date.parse(a.eventDate);
      return a.serviceName === q.serviceName && t >= from! && t < to! && q.filters.every((f) => field[f.property]?.(a) === f.value);
    });
    const ascending = q.sort[0]?.sortOrder.toLowerCase() === 'ascending';
    return structuredClone(ascending ? hits : hits.reverse());
  }

  private raise(topicName: string, eventBody: unknown): void {
    if (!this.seeding) this.o.publish(topicName, eventBody);
  }

  private seedDefaults(): void {
    const s = this.seed;
    SEED_CONTACTS.forEach(({ consent, ...contact }, i) => {
      this.upsertContact({ id: s.contactIds[i], ...contact });
      if (consent) this.setConsent(s.contactIds[i]!, consent);
    });
    const scopes = ['analytics:readonly', 'conversations', 'external-contacts', 'notifications', 'integrations:readonly', 'oauth:readonly', 'audits:readonly', 'gdpr'];
    this.admin.upsertOAuthClient({ id: s.clientId, secret: s.clientSecret, name: 'consentgate connector', description: 'Client credentials for the consentgate Genesys connectors', scope: scopes }, false);
    this.admin.upsertOAuthClient({ id: s.crmSyncClient.id, secret: s.crmSyncClient.secret, name: 'Legacy CRM sync', scope: ['external-contacts'] }, false);
    this.admin.upsertOAuthClient({ id: s.admin.clientId, name: 'Genesys Cloud Admin UI', authorizedGrantType: 'TOKEN', registeredRedirectUri: ['https://apps.mypurecloud.ie/'], scope: [] }, false);
    const type = (id: string, name: string, category: string) => ({ id, name, description: name, provider: id.startsWith('amazon') ? 'amazon' : 'genesys', category, selfUri: `/api/v2/integrations/types/${id}` });
    this.admin.upsertIntegration({
      id: s.integrationIds.crm, name: 'Salesforce CRM', integrationType: type('salesforce-datadip', 'Salesforce Data Actions', 'Data Actions'),
      config: { current: { properties: { instanceUrl: 'https://example.my.salesforce.com' }, credentials: { loginInfo: { id: s.newId(), name: 'Salesforce OAuth', type: 'salesforceDataActions' } } } as never },
    }, false);
    this.admin.upsertIntegration({
      id: s.integrationIds.eventBridge, name: 'Amazon EventBridge Source', integrationType: type('amazon-eventbridge-source', 'Amazon EventBridge Source', 'Event Orchestration'),
      config: { current: { properties: { ...EVENTBRIDGE_SOURCE, eventFilter: this.o.eventBridgeFilter } } as never },
    }, false);
    this.admin.upsertIntegration({ id: s.integrationIds.dataActions, name: 'Genesys Cloud Data Actions', intendedState: 'DISABLED' }, false);
  }
}

function nameOf(c: ExternalContact | undefined): string | undefined {
  return c ? [c.firstName, c.lastName].filter(Boolean).join(' ') || undefined : undefined;
}
