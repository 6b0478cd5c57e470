import { iso } from './ids.ts';
import type { AuditAction, AuditLogMessage, Clock, Integration, OAuthClient, PropertyChange } from './types.ts';

export interface AdminDeps {
  clock: Clock;
  newId: () => string;
  orgId: string;
  /** Who the simulated admin changes are attributed to (an admin user through the admin UI client). */
  actor: { userId: string; userName: string; clientId: string };
  onAudit: (entry: AuditLogMessage) => void;
}

type Tracked<T> = [keyof T & string, string][];
const OAUTH_TRACKED: Tracked<OAuthClient> = [
  ['name', 'name'], ['description', 'description'], ['scope', 'scopes'], ['authorizedGrantType', 'authorized_grant_type'], ['state', 'state'],
  ['accessTokenValiditySeconds', 'access_token_validity_seconds'], ['registeredRedirectUri', 'registered_redirect_uris'],
];
const integrationView = (i: Integration) => ({ name: i.name, notes: i.notes, intendedState: i.intendedState, properties: i.config.current.properties });
const INTEGRATION_TRACKED: Tracked<ReturnType<typeof integrationView>> = [['name', 'name'], ['notes', 'notes'], ['intendedState', 'intendedState'], ['properties', 'config.properties']];

/** A property as audit values; absent, null and empty lists record nothing. */
function values(v: unknown): string[] | undefined {
  const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
  return list.length ? list.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : undefined;
}

function diff<T>(tracked: Tracked<T>, before: T | undefined, after: T | undefined): PropertyChange[] {
  return tracked.flatMap(([key, property]) => {
    const oldValues = before ? values(before[key]) : undefined;
    const newValues = after ? values(after[key]) : undefined;
    if (JSON.stringify(oldValues) === JSON.stringify(newValues)) return [];
    return [{ property, ...(oldValues ? { oldValues } : {}), ...(newValues ? { newValues } : {}) }];
  });
}

/** OAuth clients, integrations and the audit log their changes write. */
export class AdminStore {
  readonly oauthClients = new Map<string, OAuthClient>();
  readonly integrations = new Map<string, Integration>();
  readonly auditLog: AuditLogMessage[] = [];
  constructor(private readonly deps: AdminDeps) {}

  upsertOAuthClient(patch: Partial<OAuthClient>, audit = true): OAuthClient {
    const before = patch.id ? this.oauthClients.get(patch.id) : undefined;
    const now = iso(this.deps.clock());
    const id = patch.id ?? this.deps.newId();
    const actorRef = { id: this.deps.actor.userId, selfUri: `/api/v2/users/${this.deps.actor.userId}` };
    const client: OAuthClient = {
      name: `OAuth client ${id.slice(0, 8)}`, accessTokenValiditySeconds: 86400, registeredRedirectUri: [], roleIds: [], dateCreated: now, createdBy: actorRef,
      authorizedGrantType: 'CLIENT-CREDENTIALS', scope: [], roleDivisions: [], state: 'active',
      ...before, ...patch, id, dateModified: now, modifiedBy: actorRef, selfUri: `/api/v2/oauth/clients/${id}`,
    };
    this.oauthClients.set(id, client);
    if (audit) this.audit('PeoplePermissions', 'OAuthClient', before ? 'Update' : 'Create', client, diff(OAUTH_TRACKED, before, client));
    return client;
  }

  deleteOAuthClient(id: string, audit = true): boolean {
    const before = this.oauthClients.get(id);
    if (!before || !this.oauthClients.delete(id)) return false;
    if (audit) this.audit('PeoplePermissions', 'OAuthClient', 'Delete', before, [{ property: 'deleted_on', newValues: [iso(this.deps.clock())] }, ...diff(OAUTH_TRACKED, before, undefined)]);
    return true;
  }

  upsertIntegration(patch: Partial<Integration>, audit = true): Integration {
    const before = patch.id ? this.integrations.get(patch.id) : undefined;
    const now = iso(this.deps.clock());
    const id = patch.id ?? this.deps.newId();
    const name = patch.name ?? before?.name ?? `Integration ${id.slice(0, 8)}`;
    const current = { name, version: (before?.config.current.version ?? 0) + 1, properties: {}, advanced: {}, notes: '', credentials: {}, ...before?.config.current, ...patch.config?.current, id, selfUri: `/api/v2/integrations/${id}/config/current` };
    const integration: Integration = {
      integrationType: { id: 'purecloud-data-actions', name: 'Genesys Cloud Data Actions', description: 'Data actions against the Genesys Cloud API', provider: 'genesys', category: 'Data Actions', selfUri: '/api/v2/integrations/types/purecloud-data-actions' },
      notes: '', intendedState: 'ENABLED', attributes: {},
      ...before, ...patch, id, name,
      config: { current },
      reportedState: { code: (patch.intendedState ?? before?.intendedState) === 'DISABLED' ? 'INACTIVE' : 'ACTIVE', effective: '', detail: {}, lastUpdated: now },
      selfUri: `/api/v2/integrations/${id}`,
    };
    this.integrations.set(id, integration);
    if (audit) this.audit('Integrations', 'Integration', before ? 'Update' : 'Create', integration, diff(INTEGRATION_TRACKED, before && integrationView(before), integrationView(integration)));
    return integration;
  }

  deleteIntegration(id: string, audit = true): boolean {
    const before = this.integrations.get(id);
    if (!before || !this.integrations.delete(id)) return false;
    if (audit) this.audit('Integrations', 'Integration', 'Delete', before, diff(INTEGRATION_TRACKED, integrationView(before), undefined));
    return true;
  }

  /** The client whose credentials match, if it may use the client-credentials grant. */
  login(clientId: string, secret: string): OAuthClient | undefined {
    const c = this.oauthClients.get(clientId);
    return c && c.secret === secret && c.state === 'active' && c.authorizedGrantType === 'CLIENT-CREDENTIALS' ? c : undefined;
  }

  private audit(serviceName: string, entityType: string, action: AuditAction, entity: { id: string; name: string }, propertyChanges: PropertyChange[]): void {
    if (action === 'Update' && propertyChanges.length === 0) return;
    const { userId, userName, clientId } = this.deps.actor;
    const text = `${entityType} '${entity.name}' ${action.toLowerCase()}d`;
    const entry: AuditLogMessage = {
      id: this.deps.newId(),
      userHomeOrgId: this.deps.orgId,
      user: { id: userId, name: userName, selfUri: `/api/v2/users/${userId}` },
      client: { id: clientId, selfUri: `/api/v2/oauth/clients/${clientId}` },
      remoteIp: ['127.0.0.1'],
      serviceName,
      level: 'USER',
      eventDate: iso(this.deps.clock()),
      message: { localizableMessageCode: `${entityType}.${action}`, message: text, messageWithParams: text, messageParams: {} },
      action,
      entity: { id: entity.id, name: entity.name },
      entityType,
      status: 'SUCCESS',
      application: 'Genesys Cloud Admin',
      propertyChanges,
      context: {},
    };
    this.auditLog.push(entry);
    this.deps.onAudit(entry);
  }
}

/** Body of `v2.audits.entitytype.{type}.entityid.{id}` (AuditTopicAuditLogMessage, as in the EventBridge sample). */
export function auditEvent(a: AuditLogMessage): Record<string, unknown> {
  return {
    id: a.id,
    userId: a.user.id,
    userHomeOrgId: a.userHomeOrgId,
    username: { id: '' },
    clientId: { id: a.client.id },
    remoteIp: a.remoteIp,
    serviceName: a.serviceName,
    level: a.level,
    eventTime: a.eventDate,
    action: a.action,
    entityType: a.entityType,
    entity: a.entity,
    propertyChanges: a.propertyChanges,
    context: a.context,
  };
}

/** An OAuth client as the REST API serves it: never with its secret. */
export function publicOAuthClient(c: OAuthClient): Omit<OAuthClient, 'secret'> {
  const { secret: _secret, ...rest } = c;
  return rest;
}
