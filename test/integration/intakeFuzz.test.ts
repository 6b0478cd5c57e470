import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import fc from 'fast-check';
import { createLogger } from '../../src/adapters/logger.ts';
import { systemClock } from '../../src/app.ts';
import { startConnectors } from '../../src/connectors/index.ts';
import type { ConsentEvent } from '../../src/domain/types.ts';
import { ERASURE_TOKEN, INTAKE_TOKEN, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

// The HTTP intake is closed by default and answers every client error with a 4xx: never a 5xx (EventBridge API
// destinations retry those for ever), never a crash, nothing written without a valid token.
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

it('malformed JSON, wrong content types, 10 MB bodies, deep nesting, odd characters and 1,000 concurrent requests: only 4xx, nothing without a token', async () => {
  const config = testConfig(undefined, { CONSENTGATE_CONNECTORS: 'consent-intake,eventbridge-http', CONSENTGATE_HTTP_PORT: '0', CONSENTGATE_INTAKE_RATE_LIMIT: '50' });
  const pipeline = await startPipeline(config);
  const connectors = await startConnectors({ config, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock: systemClock, logger: createLogger(config.logLevel), keyStore: pipeline.keyStore });
  const client = await TopicClient.open(pipeline);
  cleanups.push(() => client.close(), () => connectors.stop(), () => pipeline.stop());
  const base = connectors.intake!.url;
  const statuses = new Map<number, number>();
  let accepted = 0;
  const send = async (path: string, body: string | Buffer, headers: Record<string, string>): Promise<number> => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
    await res.arrayBuffer();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (path === '/v1/consent' && res.status === 202) accepted++;
    assert.ok(res.status < 500, `${path} answered ${res.status}`);
    return res.status;
  };
  const json = { 'content-type': 'application/json' };
  const auth = { ...json, authorization: `Bearer ${INTAKE_TOKEN}` };
  const valid = (customerId: string) => JSON.stringify({ customerId, purposes: [{ purpose: 'MARKETING', granted: false }] });

  // Without a valid token nothing is accepted, whatever the body.
  for (const headers of [json, { ...json, authorization: INTAKE_TOKEN }, { ...json, authorization: `Bearer ${INTAKE_TOKEN}x` }, { ...json, authorization: `Bearer ${ERASURE_TOKEN}` }]) {
    assert.equal(await send('/v1/consent', valid('nobody-1'), headers), 401);
    assert.equal(await send('/v1/eventbridge', '[]', headers), 401);
  }
  assert.equal(await send('/v1/erasure', JSON.stringify({ customerId: 'nobody-1' }), auth), 401, 'the intake token does not erase');
  // Content types other than JSON (a browser's cross-site form or text post), bodies too large, nesting too deep.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
    assert.equal(await send('/v1/consent', valid('typed-1'), { ...auth, 'content-type': type }), 415, type);
  }
  assert.equal(await send('/v1/consent', valid('untyped-1'), { authorization: auth.authorization }), 415);
  assert.equal(await send('/v1/consent', Buffer.alloc(10 << 20, 0x20), auth), 413);
  assert.equal(await send('/v1/eventbridge', Buffer.alloc(10 << 20, 0x5b), auth), 413);
  assert.equal(await send('/v1/consent', '['.repeat(100_000), auth), 400);
  assert.equal(await send('/v1/eventbridge', '['.repeat(100_000) + ']'.repeat(100_000), auth), 200, 'answered (dead-lettered), never retried');
  for (const id of ['x'.repeat(200_000), 'nul\u0000id', 'a\uD800b', '']) assert.equal(await send('/v1/consent', valid(id), auth), 400);
  assert.equal(await send('/v1/consent', valid('\u202Eright-to-left 😀'), auth), 202, 'well-formed Unicode without control characters is an id');
  assert.equal(await send('/v1/erasure', JSON.stringify({ customerId: 'nul\u0000id' }), { ...json, authorization: `Bearer ${ERASURE_TOKEN}` }), 400);

  // Random bodies and headers.
  await fc.assert(fc.asyncProperty(
    fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' }), fc.constant('{"customerId":')),
    fc.constantFrom('/v1/consent', '/v1/eventbridge', '/v1/erasure', '/v2/nothing'),
    fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
    fc.boolean(),
    async (body, path, type, withToken) => {
      const headers: Record<string, string> = { ...(type ? { 'content-type': type } : {}), ...(withToken ? { authorization: auth.authorization } : {}) };
      const status = await send(path, body, headers);
      if (!withToken) assert.ok(status === 401 || status === 403 || status === 404 || status === 429, `${path} without a token: ${status}`);
    },
  ), { numRuns: 300, seed: 20261130 });

  // 1,000 at once from one client: accepted or told to slow down (429 with Retry-After), nothing else. The limiter
  // counts per one-second window (50 requests here: a busy machine that spreads the burst over a few seconds still
  // exceeds it): the fuzzing above may have spent this window's allowance, so the burst starts in a fresh one.
  await new Promise((r) => setTimeout(r, 1100));
  const burst = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
    const res = await fetch(`${base}/v1/consent`, { method: 'POST', headers: auth, body: valid(`burst-${i}`) });
    await res.arrayBuffer();
    if (res.status === 202) accepted++;
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  }));
  assert.ok(burst.every((r) => r.status === 202 || (r.status === 429 && Number(r.retryAfter) >= 1)), JSON.stringify([...new Set(burst.map((r) => r.status))]));
  const byStatus = JSON.stringify(Object.fromEntries([202, 429].map((st) => [st, burst.filter((r) => r.status === st).length])));
  assert.ok(burst.some((r) => r.status === 202) && burst.some((r) => r.status === 429), `some accepted and some told to slow down: ${byStatus}`);

  assert.equal((await fetch(`${base}/healthz`)).status, 200, 'still up');
  await waitFor('accepted consent on Kafka', async () => (await client.read<ConsentEvent>('consent.events')).length === accepted);
  const keys = (await client.read<ConsentEvent>('consent.events')).map((e) => e.value.customerId);
  assert.ok(!keys.some((k) => k.startsWith('nobody') || k.startsWith('typed') || k.startsWith('untyped')), 'nothing written from a refused request');
});
