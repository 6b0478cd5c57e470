/** Topic templates the simulator publishes; `{id}` stands for one id segment. */
export const TOPIC_TEMPLATES = [
  { id: 'v2.detail.events.conversation.{id}.customer.start', description: 'A customer joined a conversation', schemaModel: 'CustomerStartDetailEventTopicCustomerStartEvent' },
  { id: 'v2.detail.events.conversation.{id}.customer.end', description: 'A customer left a conversation', schemaModel: 'CustomerEndDetailEventTopicCustomerEndEvent' },
  { id: 'v2.externalcontacts.contacts.{id}', description: 'An external contact was created or changed', schemaModel: 'ExternalContactsContactChangedTopicContact' },
  { id: 'v2.audits.entitytype.{id}.entityid.{id}', description: 'An audited change to an entity', schemaModel: 'AuditTopicAuditLogMessage' },
] as const;

const ANY = '{id}';

/**
 * Whether `pattern` covers `topic`, segment by segment: a `{id}` segment in the pattern matches any one segment
 * (including a literal `{id}`), other segments must be equal.
 */
export function covers(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  return p.length === t.length && p.every((seg, i) => seg === ANY || seg === t[i]);
}

/** The supported template a topic (concrete or templated) belongs to, if any. */
export function templateOf(topic: string): string | undefined {
  return TOPIC_TEMPLATES.find((t) => covers(t.id, topic))?.id;
}

/** The AvailableTopic listing entry of each template; EventBridge-only templates list `["EventBridge"]` as transport. */
export function availableTopics(eventBridgeOnly: string[]): Record<string, unknown>[] {
  return TOPIC_TEMPLATES.map((t) => ({
    id: t.id,
    description: t.description,
    requiresPermissions: [],
    schema: { id: t.schemaModel },
    transports: eventBridgeOnly.some((e) => covers(e, t.id)) ? ['EventBridge'] : ['All'],
    topicParameters: ['id'],
    publicApiTemplateUriPaths: [],
  }));
}
