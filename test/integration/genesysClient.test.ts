import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { GenesysClient, type GenesysSettings } from '../../src/adapters/genesys.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { GenesysSimulator, type SimulatorOptions } from '../../src/simulator/index.ts';

// The SDK-based client against the simulator: login, budget, retries and error codes. No Kafka involved.
const sims: GenesysSimulator[] = [];
after(async () => {
  for (const s of sims) await s.close();
});

async function client(simOpts: SimulatorOptions = {}, over: Partial<GenesysSettings> = {}) {
  const sim = await GenesysSimulator.start({ seed: 31, ...simOpts });
  sims.push(sim);
  const settings: GenesysSettings = {
    baseUrl: sim.baseUrl, clientId: sim.clientId, clientSecret: sim.clientSecret,
    requestsPerMinute: 1500, maxAttempts: 8, rateLimitDeadlineMs: 60_000, timeoutMs: 5_000, ...over,
  };
  return { sim, genesys: new GenesysClient(settings, createLogger('silent')) };
}

const listClients = (g: GenesysClient) => g.call<{ entities: unknown[] }>('getOauthClients', (a) => a.oauth.getOauthClients!());

it('keeps to the server rate-limit window instead of running into 429s', async () => {
  const { sim, genesys } = await client({ requestsPerMinute: 10, rateWindowMs: 1_000 });
  for (let i = 0; i < 25; i++) assert.ok(Array.isArray((await listClients(genesys)).entities));
  assert.equal(sim.stats.rateLimited, 0, 'the client waited for inin-ratelimit-reset');
  assert.equal(genesys.stats.requests, 25);
});

it('waits out a 429 storm as Retry-After says, and retries 5xx with backoff', async () => {
  const { sim, genesys } = await client();
  sim.faults.rateLimitFor(1_500, 1);
  await listClients(genesys);
  assert.ok(genesys.stats.rateLimited >= 1 && sim.stats.rateLimited >= 1);
  sim.faults.failNext(2, 502);
  const before = genesys.stats.retries;
  await listClients(genesys);
  assert.equal(genesys.stats.retries - before, 2);
});

it('gives up on persistent 5xx with GENESYS_UNAVAILABLE, and never retries a 4xx', async () => {
  const { sim, genesys } = await client({}, { maxAttempts: 3 });
  sim.faults.failNext(3, 503);
  await assert.rejects(listClients(genesys), (e: Error & { code?: string }) => e.code === 'GENESYS_UNAVAILABLE' && /after 3 attempts: HTTP 503/.test(e.message));
  const requests = genesys.stats.requests;
  await assert.rejects(genesys.call('getOauthClient', (a) => a.oauth.getOauthClient!('no-such-client')), (e: Error & { code?: string; status?: number }) => e.code === 'GENESYS_REJECTED' && e.status === 404);
  assert.equal(genesys.stats.requests - requests, 1);
});

it('logs in again after a 401 and refuses wrong credentials clearly', async () => {
  const { sim, genesys } = await client();
  await listClients(genesys);
  sim.faults.expireTokens();
  await listClients(genesys);
  assert.equal(genesys.stats.logins, 2);
  const wrong = new GenesysClient({ baseUrl: sim.baseUrl, clientId: sim.clientId, clientSecret: 'wrong', requestsPerMinute: 10, maxAttempts: 2, rateLimitDeadlineMs: 1000, timeoutMs: 2000 }, createLogger('silent'));
  await assert.rejects(listClients(wrong), (e: Error & { code?: string }) => e.code === 'GENESYS_AUTH_FAILED');
});
