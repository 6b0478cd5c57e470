import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { createLogger } from '../../src/adapters/logger.ts';
import { systemClock, type Pipeline } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { startConnectors, type Connectors } from '../../src/connectors/index.ts';
import type { SessionOutcome } from '../../src/connectors/sessionExecutor.ts';
import type { SessionCommand } from '../../src/domain/sessionGuard.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';
import { genesysEnv } from '../harness/genesys.ts';
import { postJson, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

// Guide edge case 1: a customer opts out while a conversation is live. The guard issues END_SESSION at once; the
// executor disconnects the conversation through Genesys if it is still live after the threshold.
const GRACE_MS = 1_500;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function rig() {
  const sim = await GenesysSimulator.start({ seed: 41 });
  const config: Config = testConfig(undefined, {
    ...genesysEnv(sim),
    CONSENTGATE_CONNECTORS: 'notifications,consent-intake,session-executor',
    CONSENTGATE_HTTP_PORT: '0',
    CONSENTGATE_SESSION_DISCONNECT_AFTER_MS: String(GRACE_MS),
    CONSENTGATE_SESSION_MAX_ATTEMPTS: '2',
    GENESYS_MAX_ATTEMPTS: '2',
  });
  let pipeline: Pipeline = await startPipeline(config);
  const start = () => startConnectors({ config, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock: systemClock, logger: createLogger(config.logLevel) });
  let connectors: Connectors = await start();
  const client = await TopicClient.open(pipeline);
  cleanups.push(async () => {
    await connectors.stop();
    await client.close();
    await pipeline.stop();
    await sim.close();
  });
  const optOut = async (customerId: string) => {
    const res = await postJson(`${connectors.intake!.url}/v1/consent`, { customerId, purposes: [{ purpose: 'MARKETING', granted: false }] });
    assert.equal(res.status, 202);
  };
  const commands = async () => (await client.read<SessionCommand>('session.commands')).map((c) => c.value);
  const outcomes = async () => new Map((await client.read<SessionOutcome>('session.outcomes')).map((o) => [o.value.conversationId, o.value]));
  return {
    sim, client, optOut, commands, outcomes,
    get connectors() {
      return connectors;
    },
    async restartPipeline() {
      await connectors.stop();
      await pipeline.stop();
      pipeline = await startPipeline(config);
      connectors = await start();
    },
  };
}

const customer = (r: Awaited<ReturnType<typeof rig>>, name: string) => {
  const c = r.sim.upsertContact({ firstName: name });
  r.sim.setConsent(c.id, { marketing: true, analytics: true, thirdParty: true, at: Date.now() - 60_000 });
  return c.id;
};

it('ends live conversations of customers who opt out mid-conversation; leaves the others; survives a restart', async () => {
  const r = await rig();
  const ann = customer(r, 'Ann');
  const bo = customer(r, 'Bo');
  const cy = customer(r, 'Cy');
  const call = r.sim.startConversation({ customerId: ann, mediaType: 'voice' }).conversationId;
  const chat = r.sim.startConversation({ customerId: bo, mediaType: 'chat' }).conversationId;
  await waitFor('both conversations tracked', async () => (await r.client.read('genesys.conversations')).length >= 2);

  // Ann opts out mid-call: END_SESSION at once, a disconnect in Genesys after the grace period.
  const optedOutAt = Date.now();
  await r.optOut(ann);
  await waitFor('END_SESSION for the call', async () => (await r.commands()).some((c) => c.conversationId === call));
  const [command] = (await r.commands()).filter((c) => c.conversationId === call);
  assert.equal(command!.customerId, ann);
  assert.deepEqual(command!.withdrawnPurposes, ['MARKETING']);
  assert.equal(command!.disconnectAt - command!.issuedAt, GRACE_MS);
  assert.ok(command!.issuedAt - optedOutAt < GRACE_MS, 'issued at once, not after the grace period');
  assert.equal(r.sim.conversation(call)!.conversationEnd, undefined, 'still live during the grace period');
  await waitFor('call disconnected', async () => (await r.outcomes()).get(call)?.outcome === 'DISCONNECTED', 30_000);
  assert.ok(r.sim.conversation(call)!.conversationEnd, 'Genesys ended the call');

  // Bo opts out, but his chat ends by itself within the grace period: nothing to disconnect.
  await r.optOut(bo);
  await waitFor('END_SESSION for the chat', async () => (await r.commands()).some((c) => c.conversationId === chat));
  r.sim.endConversation(chat);
  await waitFor('chat outcome', async () => (await r.outcomes()).has(chat), 30_000);
  assert.equal((await r.outcomes()).get(chat)!.outcome, 'ALREADY_ENDED');

  // Cy had opted out before her call began: her data is blocked, the call is not ended.
  await r.optOut(cy);
  await new Promise((res) => setTimeout(res, 200));
  const later = r.sim.startConversation({ customerId: cy, mediaType: 'voice' }).conversationId;

  // The live set survives a restart: Dee's call started before it, she opts out after it.
  const dee = customer(r, 'Dee');
  const deeCall = r.sim.startConversation({ customerId: dee, mediaType: 'message' }).conversationId;
  await waitFor('Dee tracked', async () => (await r.client.read<{ conversationId: string }>('genesys.conversations')).some((x) => x.value.conversationId === deeCall));
  await r.restartPipeline();
  await r.optOut(dee);
  await waitFor('Dee disconnected after the restart', async () => (await r.outcomes()).get(deeCall)?.outcome === 'DISCONNECTED', 30_000);

  assert.ok(!(await r.commands()).some((c) => c.conversationId === later), 'no command for a call that began after the opt-out');
  assert.equal(r.sim.conversation(later)!.conversationEnd, undefined);
  assert.equal((await r.commands()).length, 3, 'one command per conversation');
});

it('retries a failing disconnect and records FAILED when Genesys keeps refusing, without losing the command', async () => {
  const r = await rig();
  const eve = customer(r, 'Eve');
  const call = r.sim.startConversation({ customerId: eve, mediaType: 'voice' }).conversationId;
  await waitFor('tracked', async () => (await r.client.read('genesys.conversations')).length >= 1);
  await r.optOut(eve);
  await waitFor('command', async () => (await r.commands()).length === 1);
  r.sim.faults.failNext(1_000, 503);
  await waitFor('outcome', async () => (await r.outcomes()).has(call), 30_000);
  const outcome = (await r.outcomes()).get(call)!;
  assert.equal(outcome.outcome, 'FAILED');
  assert.equal(outcome.attempts, 2);
  assert.match(outcome.detail ?? '', /GENESYS_UNAVAILABLE/);
  assert.equal(r.connectors.sessionExecutor!.stats.failed, 1);
});
