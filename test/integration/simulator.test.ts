import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import platformClient from 'purecloud-platform-client-v2';
import WebSocket from 'ws';
import { COMPLIANCE_CONSENT_FIELDS, GenesysSimulator, type SimulatorOptions } from '../../src/simulator/index.ts';

const pc = platformClient as any;
type Extended = { status: number; headers: Record<string, string>; body: any };

/** An independent SDK client logged in to the simulator, with extended responses. */
async function sdk(sim: GenesysSimulator, secret = sim.clientSecret) {
  const client = new pc.ApiClientClass();
  client.config.live_reload_config = false;
  client.setGateway(sim.gateway());
  client.setReturnExtendedResponses(true);
  await client.loginClientCredentialsGrant(sim.clientId, secret);
  return {
    client,
    notifications: new pc.NotificationsApi(client),
    analytics: new pc.AnalyticsApi(client),
    contacts: new pc.ExternalContactsApi(client),
    conversations: new pc.ConversationsApi(client),
  };
}

async function rejected(p: Promise<unknown>): Promise<Extended> {
  try {
    await p;
  } catch (e) {
    return e as Extended;
  }
  throw new Error('expected the call to fail');
}

function parseOrRaw(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

/** A channel socket that records every message and how it closed. */
function connect(uri: string) {
  const ws = new WebSocket(uri);
  const messages: any[] = [];
  let wake = () => {};
  ws.on('message', (d) => {
    messages.push(parseOrRaw(d.toString()));
    wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const next = async (pred: (m: any) => boolean, ms = 2000): Promise<any> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = messages.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error('no matching message');
      await new Promise<void>((r) => ((wake = r), setTimeout(r, 20)));
    }
  };
  return { ws, messages, closed, opened, next };
}

async function channelWith(api: Awaited<ReturnType<typeof sdk>>, topics: string[]) {
  const ch: Extended = await api.notifications.postNotificationsChannels();
  const subs: Extended = await api.notifications.putNotificationsChannelSubscriptions(ch.body.id, topics.map((id) => ({ id })));
  return { channel: ch.body as { id: string; connectUri: string; expires: string }, subscriptions: subs.body.entities as any[] };
}

async function withSim(opts: SimulatorOptions, fn: (sim: GenesysSimulator) => Promise<void>): Promise<void> {
  const sim = await GenesysSimulator.start(opts);
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

const START = 'v2.detail.events.conversation.{id}.customer.start';
const END = 'v2.detail.events.conversation.{id}.customer.end';
const window = () => `${new Date(Date.now() - 3600_000).toISOString()}/${new Date(Date.now() + 3600_000).toISOString()}`;

test('client-credentials login, bad secret, expired and revoked tokens', async () => {
  let now = Date.now();
  await withSim({ clock: () => now, tokenTtlSec: 60 }, async (sim) => {
    const api = await sdk(sim);
    assert.equal(sim.stats.logins, 1);
    assert.equal((await api.notifications.getNotificationsChannels()).status, 200);

    // Login failures reject with the raw axios error, even with extended responses.
    const bad = (await rejected(sdk(sim, 'wrong-secret'))) as unknown as { response: { status: number; data: { error: string } } };
    assert.equal(bad.response.status, 401);
    assert.equal(bad.response.data.error, 'invalid_client');

    now += 61_000;
    const expired = await rejected(api.notifications.getNotificationsChannels());
    assert.equal(expired.status, 401);
    assert.equal(expired.body.code, 'bad.credentials');
    assert.equal(expired.body.status, 401);
    await api.client.loginClientCredentialsGrant(sim.clientId, sim.clientSecret);
    assert.equal((await api.notifications.getNotificationsChannels()).status, 200);

    sim.faults.expireTokens();
    assert.equal((await rejected(api.notifications.getNotificationsChannels())).status, 401);
  });
});

test('subscriptions are Permitted or Rejected, and the socket receives customer.start as documented', async () => {
  await withSim({ eventBridgeOnlyTopics: ['v2.audits.entitytype.{id}.entityid.{id}'] }, async (sim) => {
    const api = await sdk(sim);
    const { channel, subscriptions } = await channelWith(api, [START, 'v2.audits.entitytype.OAuthClient.entityid.{id}']);
    assert.match(channel.id, /^streaming-0-/);
    assert.equal(channel.connectUri, `ws://127.0.0.1:${sim.port}/channels/${channel.id}`);
    assert.deepEqual(subscriptions.map((s) => [s.id, s.state]), [[START, 'Permitted'], ['v2.audits.entitytype.OAuthClient.entityid.{id}', 'Rejected']]);
    assert.match(subscriptions[1].rejectionReason, /EventBridge/);
    const topics: Extended = await api.notifications.getNotificationsAvailabletopics();
    assert.deepEqual(topics.body.entities.find((t: any) => t.id === 'v2.audits.entitytype.{id}.entityid.{id}').transports, ['EventBridge']);

    const sock = connect(channel.connectUri);
    await sock.opened;
    const customerId = sim.upsertContact({ firstName: 'Test', lastName: 'Customer' }).id;
    const conv = sim.startConversation({ customerId, mediaType: 'voice', ani: 'tel:+15550001111', dnis: 'tel:+18005550100' });
    const msg = await sock.next((m) => m.topicName === `v2.detail.events.conversation.${conv.conversationId}.customer.start`);
    assert.equal(msg.version, '2');
    assert.match(msg.metadata.CorrelationId, /^[0-9a-f-]{36}$/);
    const e = msg.eventBody;
    const customer = conv.participants.find((p) => p.purpose === 'customer')!;
    assert.equal(typeof e.eventTime, 'number');
    assert.equal(new Date(e.eventTime).toISOString(), conv.conversationStart);
    assert.equal(e.conversationId, conv.conversationId);
    assert.equal(e.participantId, customer.participantId);
    assert.equal(e.sessionId, customer.sessions[0]!.sessionId);
    assert.equal(e.externalContactId, customerId);
    assert.deepEqual(e.conversationExternalContactIds, [customerId]);
    assert.deepEqual([e.mediaType, e.direction, e.ani, e.dnis], ['VOICE', 'INBOUND', 'tel:+15550001111', 'tel:+18005550100']);
    assert.equal(typeof e.divisionId, 'string');
    assert.equal(sim.published.at(-1)!.deliveredTo, 1);
    sock.ws.close();
    await sock.closed;

    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `v2.externalcontacts.contacts.c${i}` }));
    assert.equal((await rejected(api.notifications.postNotificationsChannelSubscriptions(channel.id, tooMany))).status, 400);
    // Channel 21 of a client replaces its oldest channel without a socket (here: the first one).
    const more: Extended[] = [];
    for (let i = 0; i < 20; i++) more.push(await api.notifications.postNotificationsChannels());
    assert.equal((await rejected(api.notifications.headNotificationsChannel(channel.id))).status, 404);
    const listed: Extended = await api.notifications.getNotificationsChannels({ includechannels: 'oauthclient' });
    assert.equal(listed.body.entities.length, 20);
  });
});

test('heartbeats arrive on schedule and ping gets pong', async () => {
  await withSim({ heartbeatMs: 60 }, async (sim) => {
    const { channel } = await channelWith(await sdk(sim), [START]);
    const sock = connect(channel.connectUri);
    await sock.opened;
    await sock.next((m) => m.topicName === 'channel.metadata' && m.eventBody.message === 'WebSocket Heartbeat');
    sock.ws.send(JSON.stringify({ message: 'ping' }));
    assert.deepEqual(await sock.next((m) => m.eventBody?.message === 'pong'), { topicName: 'channel.metadata', eventBody: { message: 'pong' } });
    sock.ws.close();
  });
});

test('a second socket on a channel closes the first; socket faults reach every socket', async () => {
  await withSim({ socketClosingLeadMs: 50 }, async (sim) => {
    const { channel } = await channelWith(await sdk(sim), [START]);
    const first = connect(channel.connectUri);
    await first.opened;
    const second = connect(channel.connectUri);
    await second.opened;
    await first.closed;
    sim.startConversation({ customerId: null });
    await second.next((m) => m.topicName?.endsWith('.customer.start'));
    assert.equal(first.messages.filter((m) => m.topicName?.endsWith('.customer.start')).length, 0);

    sim.faults.malformed('{not json');
    await second.next((m) => m.raw === '{not json');
    sim.faults.socketClosing();
    const closing = await second.next((m) => m.topicName === 'v2.system.socket_closing');
    assert.equal(closing.eventBody.channelId, channel.id);
    assert.equal((await second.closed).code, 1001);

    const third = connect(channel.connectUri);
    await third.opened;
    sim.faults.dropSockets();
    assert.equal((await third.closed).code, 1006);
    assert.equal(sim.stats.socketsOpened, 3);
  });
});

test('events published without an open socket are lost, but the analytics query reproduces them', async () => {
  await withSim({}, async (sim) => {
    const api = await sdk(sim);
    const { channel } = await channelWith(api, [START]);
    const before = connect(channel.connectUri);
    await before.opened;
    before.ws.close();
    await before.closed;

    const conv = sim.startConversation({ customerId: null, mediaType: 'chat' });
    assert.equal(sim.published.at(-1)!.deliveredTo, 0);
    const after = connect(channel.connectUri);
    await after.opened;
    await sleep(150);
    assert.equal(after.messages.filter((m) => m.topicName.endsWith('.customer.start')).length, 0);
    after.ws.close();

    const event = sim.published.at(-1)!.eventBody as any;
    const res: Extended = await api.analytics.postAnalyticsConversationsDetailsQuery({
      interval: window(),
      conversationFilters: [{ type: 'and', predicates: [{ type: 'dimension', dimension: 'conversationId', operator: 'matches', value: conv.conversationId }] }],
    });
    assert.equal(res.body.totalHits, 1);
    const found = res.body.conversations[0];
    assert.equal(found.conversationStart, new Date(event.eventTime).toISOString());
    const customer = found.participants.find((p: any) => p.purpose === 'customer');
    assert.equal(customer.participantId, event.participantId);
    assert.equal(customer.externalContactId, undefined);
    assert.equal(customer.sessions[0].sessionId, event.sessionId);
    assert.equal(customer.sessions[0].mediaType, 'chat');
    assert.ok(found.participants.some((p: any) => p.purpose === 'agent' && p.userId));
  });
});

test('rate limits and injected failures answer with Genesys headers and ErrorBody', async () => {
  await withSim({ requestsPerMinute: 3 }, async (sim) => {
    const api = await sdk(sim);
    const ok: Extended = await api.notifications.getNotificationsChannels();
    assert.deepEqual([ok.headers['inin-ratelimit-allowed'], ok.headers['inin-ratelimit-count']], ['3', '1']);
    assert.ok(Number(ok.headers['inin-ratelimit-reset']) > 0);
    assert.ok(ok.headers['inin-correlation-id']);
    await api.notifications.getNotificationsChannels();
    await api.notifications.getNotificationsChannels();
    const limited = await rejected(api.notifications.getNotificationsChannels());
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(limited.headers['inin-ratelimit-allowed'], '3');
    assert.equal(limited.body.code, 'too.many.requests');
    assert.equal(limited.body.contextId, limited.headers['inin-correlation-id']);
  });
  await withSim({}, async (sim) => {
    const api = await sdk(sim);
    sim.faults.rateLimitFor(10_000, 7);
    const limited = await rejected(api.contacts.getExternalcontactsContacts());
    assert.deepEqual([limited.status, limited.headers['retry-after']], [429, '7']);
    assert.ok(limited.headers['inin-ratelimit-count']);
    await api.client.loginClientCredentialsGrant(sim.clientId, sim.clientSecret);
    sim.faults.rateLimitFor(0);

    sim.faults.failNext(1);
    const failed = await rejected(api.contacts.getExternalcontactsContacts());
    assert.equal(failed.status, 503);
    assert.deepEqual(Object.keys(failed.body).sort(), ['code', 'contextId', 'details', 'errors', 'message', 'messageParams', 'messageWithParams', 'status']);
    assert.equal((await api.contacts.getExternalcontactsContacts()).status, 200);
    assert.deepEqual([sim.stats.rateLimited, sim.stats.faults], [1, 2]);
  });
});

test('an analytics job pages through every conversation exactly once with stable cursors', async () => {
  await withSim({ analyticsJobDelayMs: 50 }, async (sim) => {
    const api = await sdk(sim);
    const run = await sim.traffic({ seed: 5, customers: 30, conversations: 230, consentChanges: 10 });
    const job: Extended = await api.analytics.postAnalyticsConversationsDetailsJobs({ interval: window() });
    const jobId = job.body.jobId;
    assert.equal((await rejected(api.analytics.getAnalyticsConversationsDetailsJobResults(jobId))).status, 400);
    let state = '';
    while (state !== 'FULFILLED') {
      await sleep(20);
      state = (await api.analytics.getAnalyticsConversationsDetailsJob(jobId)).body.state;
    }
    sim.startConversation({ customerId: null });
    const seen: string[] = [];
    const cursors: (string | undefined)[] = [undefined];
    for (let cursor: string | undefined; ; ) {
      const page: Extended = await api.analytics.getAnalyticsConversationsDetailsJobResults(jobId, { pageSize: 40, ...(cursor ? { cursor } : {}) });
      seen.push(...page.body.conversations.map((c: any) => c.conversationId));
      cursor = page.body.cursor;
      if (!cursor) break;
      cursors.push(cursor);
    }
    assert.equal(seen.length, 230);
    assert.deepEqual(new Set(seen), new Set(run.conversationIds));
    const again: Extended = await api.analytics.getAnalyticsConversationsDetailsJobResults(jobId, { pageSize: 40, cursor: cursors[3] });
    assert.deepEqual(again.body.conversations.map((c: any) => c.conversationId), seen.slice(120, 160));
  });
});

test('PUT of an external contact validates ComplianceConsent fields and publishes the change', async () => {
  await withSim({}, async (sim) => {
    const api = await sdk(sim);
    const { channel } = await channelWith(api, ['v2.externalcontacts.contacts.{id}']);
    const sock = connect(channel.connectUri);
    await sock.opened;
    const created = sim.upsertContact({ firstName: 'Rosa', lastName: 'Parks', workEmail: 'rosa@example.com' });
    const schemas: Extended = await api.contacts.getExternalcontactsContactsSchemas();
    const schema = schemas.body.entities.find((s: any) => s.name === 'ComplianceConsent');
    const F = COMPLIANCE_CONSENT_FIELDS;
    const fields = { [F.marketing]: true, [F.analytics]: false, [F.thirdParty]: false, [F.lastConsentAt]: '2025-01-02T03:04:05.000Z', [F.source]: 'Web' };
    await sleep(5);
    const put: Extended = await api.contacts.putExternalcontactsContact(created.id, { ...created, schema: { id: schema.id, version: schema.version }, customFields: fields });
    assert.deepEqual(put.body.customFields, fields);
    assert.ok(put.body.modifyDate > created.modifyDate);
    const msg = await sock.next((m) => m.topicName === `v2.externalcontacts.contacts.${created.id}` && m.eventBody.customFields);
    assert.deepEqual(msg.eventBody.customFields, fields);
    assert.deepEqual(msg.eventBody.schema, { id: schema.id, version: schema.version });
    assert.equal(msg.eventBody.modifyDate, put.body.modifyDate);

    for (const bad of [{ nickname_text: 'x' }, { [F.marketing]: 'yes' }, { [F.lastConsentAt]: 'yesterday' }]) {
      const res = await rejected(api.contacts.putExternalcontactsContact(created.id, { ...created, schema: { id: schema.id }, customFields: bad }));
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.status, 400);
    }
    assert.equal((await rejected(api.contacts.getExternalcontactsContact('no-such-contact'))).status, 404);
    assert.equal((await rejected(api.contacts.getExternalcontactsContacts({ pageSize: 100, pageNumber: 11 }))).status, 400);
    sock.ws.close();
  });
});

test('PATCH {state: disconnected} ends a conversation and publishes customer.end', async () => {
  await withSim({}, async (sim) => {
    const api = await sdk(sim);
    const { channel } = await channelWith(api, [END]);
    const sock = connect(channel.connectUri);
    await sock.opened;
    const conv = sim.startConversation({ customerId: null, mediaType: 'voice' });
    assert.equal((await rejected(api.conversations.patchConversationsEmail(conv.conversationId, { state: 'disconnected' }))).status, 404);
    const res: Extended = await api.conversations.patchConversationsCall(conv.conversationId, { state: 'disconnected' });
    assert.equal(res.body.state, 'disconnected');
    const end = (await sock.next((m) => m.topicName === `v2.detail.events.conversation.${conv.conversationId}.customer.end`)).eventBody;
    assert.equal(end.disconnectType, 'CLIENT');
    assert.equal(typeof end.interactingDurationMs, 'number');
    const stored = sim.conversation(conv.conversationId)!;
    assert.equal(stored.conversationEnd, new Date(end.eventTime).toISOString());
    assert.equal(stored.conversationEnd, res.body.endTime);
    const segments = stored.participants.find((p) => p.purpose === 'customer')!.sessions[0]!.segments;
    assert.equal(segments.at(-1)!.disconnectType, 'client');
    assert.equal((await rejected(api.conversations.patchConversationsCall(conv.conversationId, { state: 'disconnected' }))).status, 400);
    sock.ws.close();
  });
});

test('a channel expires unless resubscribed: its socket closes and HEAD answers 404', async () => {
  await withSim({ channelTtlMs: 600 }, async (sim) => {
    const api = await sdk(sim);
    const ch: Extended = await api.notifications.postNotificationsChannels();
    const sock = connect(ch.body.connectUri);
    await sock.opened;
    await sleep(300);
    const put: Extended = await api.notifications.putNotificationsChannelSubscriptions(ch.body.id, [{ id: START }]);
    assert.equal(put.status, 200);
    await sleep(400);
    assert.equal((await api.notifications.headNotificationsChannel(ch.body.id)).status, 200);
    assert.equal(sock.ws.readyState, WebSocket.OPEN);
    await sock.closed;
    assert.equal((await rejected(api.notifications.headNotificationsChannel(ch.body.id))).status, 404);
    await assert.rejects(connect(ch.body.connectUri).opened, /upgrade refused: 404/);
  });
});

test('traffic with the same seed yields the same ids and event sequence', async () => {
  const runs: { summary: unknown; topics: string[] }[] = [];
  for (let i = 0; i < 2; i++) {
    await withSim({ seed: 9 }, async (sim) => {
      const summary = await sim.traffic({ seed: 42, customers: 15, conversations: 25, consentChanges: 8 });
      runs.push({ summary, topics: sim.published.map((p) => p.topicName) });
    });
  }
  const [a, b] = runs as [any, any];
  assert.deepEqual(a, b);
  assert.equal(a.summary.contactIds.length, 15);
  assert.equal(a.summary.conversationIds.length, 25);
  assert.ok(a.summary.anonymousConversationIds.length < 25);
  await withSim({ seed: 9 }, async (sim) => {
    const other = await sim.traffic({ seed: 43, customers: 15, conversations: 25, consentChanges: 8 });
    assert.notDeepEqual(other.conversationIds, a.summary.conversationIds);
  });
});

test('admin changes are audited, queryable and forwarded to EventBridge', async () => {
  const received: any[] = [];
  const bridge = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    // The first delivery fails so that the retry path is exercised.
    req.on('end', () => (received.push(JSON.parse(body)), res.writeHead(received.length === 1 ? 500 : 200).end()));
  });
  await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(bridge.address() as AddressInfo).port}/events`;
  try {
    await withSim({ analyticsJobDelayMs: 30, timeScale: 50, eventBridge: { url, topics: ['v2.audits.entitytype.{id}.entityid.{id}'] } }, async (sim) => {
      const api = await sdk(sim);
      const client = sim.upsertOAuthClient({ name: 'Rogue exporter', scope: ['analytics:readonly'] });
      sim.deleteOAuthClient(client.id);
      const audit = new pc.AuditApi(api.client);
      const q: Extended = await audit.postAuditsQuery({ interval: window(), serviceName: 'PeoplePermissions', filters: [{ property: 'EntityId', value: client.id }] });
      for (let s = q.body.state; s !== 'Succeeded'; s = (await audit.getAuditsQueryTransactionId(q.body.id)).body.state) await sleep(20);
      const results: Extended = await audit.getAuditsQueryTransactionIdResults(q.body.id, { pageSize: 500 });
      assert.deepEqual(results.body.entities.map((e: any) => e.action), ['Delete', 'Create']);

      for (let i = 0; received.length < 3 && i < 100; i++) await sleep(20);
      const envelopes = received.filter((e) => e.detail.eventBody.action === 'Delete');
      assert.ok(envelopes.length >= 1, 'the failed delivery was retried');
      const env = envelopes[0];
      assert.equal(env['detail-type'], 'v2.audits.entitytype.{id}.entityid.{id}');
      assert.equal(env.detail.topicName, `v2.audits.entitytype.OAuthClient.entityid.${client.id}`);
      assert.equal(env.source, `aws.partner/genesys.com/cloud/${sim.orgId}/consentgate`);
      assert.deepEqual(env.detail.eventBody.entity, { id: client.id, name: 'Rogue exporter' });
      assert.equal(env.detail.eventBody.propertyChanges[0].property, 'deleted_on');

      const oauth: Extended = await new pc.OAuthApi(api.client).getOauthClients();
      assert.ok(oauth.body.entities.every((c: any) => !('secret' in c)));
      const ints: Extended = await new pc.IntegrationsApi(api.client).getIntegrations({ pageSize: 2 });
      assert.deepEqual([ints.body.total, ints.body.pageCount, ints.body.entities.length], [3, 2, 2]);
      const eb = (await new pc.IntegrationsApi(api.client).getIntegrations({ expand: ['config.current'] })).body.entities.find((i: any) => i.integrationType.id === 'amazon-eventbridge-source');
      assert.deepEqual(Object.keys(eb.config.current.properties).sort(), ['awsAccountId', 'awsAccountRegion', 'eventFilter', 'eventSourceSuffix']);
    });
  } finally {
    bridge.close();
  }
});

test('GDPR subjects are found among contacts and a delete needs confirmation', async () => {
  await withSim({ analyticsJobDelayMs: 20 }, async (sim) => {
    const api = await sdk(sim);
    const gdpr = new pc.GeneralDataProtectionRegulationApi(api.client);
    const contact = sim.upsertContact({ firstName: 'Erin', lastName: 'Erase', workEmail: 'erin@example.com', cellPhone: { e164: '+15550009999' } });
    const byEmail: Extended = await gdpr.getGdprSubjects('EMAIL', 'erin@example.com');
    const byPhone: Extended = await gdpr.getGdprSubjects('PHONE', '+1 555 000 9999');
    assert.deepEqual([byEmail.body.entities[0].externalContactId, byPhone.body.entities[0].externalContactId], [contact.id, contact.id]);
    const request = { requestType: 'GDPR_DELETE', subject: { externalContactId: contact.id } };
    assert.equal((await rejected(gdpr.postGdprRequests(request))).status, 400);
    const created: Extended = await gdpr.postGdprRequests(request, { deleteConfirmed: true });
    assert.equal(created.body.status, 'INITIATED');
    await sleep(60);
    assert.equal((await gdpr.getGdprRequest(created.body.id)).body.status, 'COMPLETED');
    assert.equal(sim.contact(contact.id), undefined);
  });
});
