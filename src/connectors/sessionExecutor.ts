import type { GenesysClient } from '../adapters/genesys.ts';
import { consumeBatches, type Kafka } from '../adapters/kafka.ts';
import { decodeWaiting } from '../adapters/schemaRegistry.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import type { SessionCommand } from '../domain/sessionGuard.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Sender } from './sink.ts';

export type SessionOutcomeKind = 'DISCONNECTED' | 'ALREADY_ENDED' | 'NOT_FOUND' | 'FAILED';

export interface SessionOutcome {
  commandId: string;
  conversationId: string;
  customerId: string;
  outcome: SessionOutcomeKind;
  attempts: number;
  detail: string | null;
  at: number;
}

interface LiveConversation {
  endTime?: string;
  participants?: ({ purpose?: string } & Record<string, unknown>)[];
}

/** Media field of a Genesys conversation participant → the SDK call that sets it disconnected. */
const DISCONNECT: [field: string, method: string][] = [
  ['calls', 'patchConversationsCall'],
  ['callbacks', 'patchConversationsCallback'],
  ['emails', 'patchConversationsEmail'],
  ['messages', 'patchConversationsMessage'],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * session.commands → Genesys. Each END_SESSION waits until its `disconnectAt` (the grace the policy gives the
 * conversation to end by itself), then looks the conversation up and, if it is still live, PATCHes it
 * `{"state":"disconnected"}` through the SDK (chats, which the SDK cannot PATCH, are torn down with POST
 * …/disconnect). Every command ends in one outcome on session.outcomes: DISCONNECTED, ALREADY_ENDED, NOT_FOUND,
 * or FAILED after `maxAttempts` (logged as an error and counted). Offsets are committed after the outcome is on
 * Kafka, so a restart re-executes an unfinished command; executing one twice is harmless (ALREADY_ENDED).
 */
export async function startSessionExecutor(o: {
  kafka: Kafka;
  groupId: string;
  topology: Topology;
  serdes: SerdeRegistry;
  genesys: GenesysClient;
  sender: Sender;
  clock: Clock;
  logger: Logger;
  maxAttempts?: number;
}) {
  const stats = { disconnected: 0, alreadyEnded: 0, notFound: 0, failed: 0 };
  const commandSerde = o.serdes.forTopic<SessionCommand>('session.commands');
  const outcomeSerde = o.serdes.forTopic<SessionOutcome>('session.outcomes');
  const outcomes = o.topology.topic('session.outcomes').name;
  let stopping = false;

  const disconnect = async (c: SessionCommand): Promise<SessionOutcomeKind> => {
    let conv: LiveConversation;
    try {
      conv = await o.genesys.call<LiveConversation>('getConversation', (a) => a.conversations.getConversation!(c.conversationId));
    } catch (err) {
      if ((err as { status?: number }).status === 404) return 'NOT_FOUND';
      throw err;
    }
    if (conv.endTime) return 'ALREADY_ENDED';
    const customer = conv.participants?.find((p) => p.purpose === 'customer') ?? conv.participants?.[0] ?? {};
    const patch = DISCONNECT.find(([field]) => Array.isArray(customer[field]) && (customer[field] as unknown[]).length > 0);
    if (patch) {
      await o.genesys.call(patch[1], (a) => a.conversations[patch[1]]!(c.conversationId, { state: 'disconnected' }));
    } else {
      await o.genesys.call('postConversationDisconnect', (a) => a.conversations.postConversationDisconnect!(c.conversationId));
    }
    return 'DISCONNECTED';
  };

  const execute = async (c: SessionCommand, heartbeat: () => Promise<void>): Promise<SessionOutcome> => {
    for (let wait = c.disconnectAt - o.clock.now(); wait > 0 && !stopping; wait = c.disconnectAt - o.clock.now()) {
      await sleep(Math.min(wait, 1000));
      await heartbeat();
    }
    const max = o.maxAttempts ?? 5;
    let detail: string | null = null;
    for (let attempt = 1; attempt <= max; attempt++) {
      try {
        return { commandId: c.commandId, conversationId: c.conversationId, customerId: c.customerId, outcome: await disconnect(c), attempts: attempt, detail: null, at: o.clock.now() };
      } catch (err) {
        const e = err as Error & { code?: string };
        detail = `${e.code ?? 'ERROR'}: ${e.message}`.slice(0, 500);
        o.logger.warn({ commandId: c.commandId, attempt, err: detail }, 'session disconnect failed: retrying');
        if (stopping) throw err;
        if (attempt < max) {
          await sleep(Math.min(30_000, 500 * 2 ** (attempt - 1)));
          await heartbeat();
        }
      }
    }
    o.logger.error({ commandId: c.commandId, conversationId: c.conversationId, err: detail }, 'session could not be disconnected: recorded as FAILED');
    return { commandId: c.commandId, conversationId: c.conversationId, customerId: c.customerId, outcome: 'FAILED', attempts: max, detail, at: o.clock.now() };
  };

  const consumer = await consumeBatches(o.kafka, {
    groupId: o.groupId,
    topic: o.topology.topic('session.commands').name,
    async handle(records, heartbeat) {
      for (const r of records) {
        let c: SessionCommand;
        try {
          c = await decodeWaiting(commandSerde, r.value, { heartbeat, warn: (m) => o.logger.warn(m) });
        } catch (err) {
          o.logger.error({ offset: r.offset, partition: r.partition, err: (err as Error).message }, 'undecodable session command skipped');
          continue;
        }
        const result = await execute(c, heartbeat);
        await o.sender.send([{ topic: outcomes, key: c.conversationId, value: outcomeSerde.encode(result) }]);
        const k = result.outcome === 'DISCONNECTED' ? 'disconnected' : result.outcome === 'ALREADY_ENDED' ? 'alreadyEnded' : result.outcome === 'NOT_FOUND' ? 'notFound' : 'failed';
        stats[k]++;
      }
    },
  });
  return {
    stats,
    async stop() {
      stopping = true;
      await consumer.stop();
    },
  };
}
