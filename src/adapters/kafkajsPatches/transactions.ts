// kafkajs' transaction manager (see index.ts).

export interface Coordinators {
  findGroupCoordinatorMetadata(o: { groupId: string; coordinatorType: number }): Promise<{ coordinator: { nodeId: number } }>;
  findBroker(o: { nodeId: number }): Promise<unknown>;
}
export type EosManager = Record<string, unknown>;
const TRANSACTION_STEPS = ['initProducerId', 'addPartitionsToTransaction', 'sendOffsets', 'commit', 'abort'];

/** The coordinator's answer to a transaction's first requests until the previous one's markers are written. */
const CONCURRENT_TRANSACTIONS = 'CONCURRENT_TRANSACTIONS';
/** How long AddPartitionsToTxn and AddOffsetsToTxn are retried at short intervals while the coordinator answers CONCURRENT_TRANSACTIONS. */
const CONCURRENT_RETRY_MS = 2000;

const TRANSACTION_COORDINATOR = 1;

const errorType = (err: unknown): string | undefined => (err as { type?: string } | undefined)?.type;

interface TransactionCoordinator {
  addPartitionsToTxn(request: unknown): Promise<unknown>;
  addOffsetsToTxn(request: unknown): Promise<unknown>;
}

/** The coordinator with its two requests that open a transaction's parts retried while it answers CONCURRENT_TRANSACTIONS. */
function retryingConcurrent<B extends TransactionCoordinator>(broker: B): B {
  const retrying = (send: (request: unknown) => Promise<unknown>) => async (request: unknown) => {
    const until = Date.now() + CONCURRENT_RETRY_MS;
    for (let wait = 1; ; wait = Math.min(8, wait * 2)) {
      try {
        return await send(request);
      } catch (err) {
        if (errorType(err) !== CONCURRENT_TRANSACTIONS || Date.now() >= until) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  return Object.create(broker, {
    addPartitionsToTxn: { value: retrying((r) => broker.addPartitionsToTxn(r)) },
    addOffsetsToTxn: { value: retrying((r) => broker.addOffsetsToTxn(r)) },
  }) as B;
}

/**
 * Two costs of kafkajs' transaction manager, on every transaction:
 * - it asks the cluster for the transaction coordinator before every step and for the group coordinator before
 *   every offset commit — four FindCoordinator round trips besides the five a transaction needs (AddPartitionsToTxn,
 *   Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn). Each transactional producer here remembers its coordinators
 *   (as the Java client does) and forgets them when a step fails, so a step retried after a coordinator moved looks
 *   them up again;
 * - a transaction begun right after a commit gets CONCURRENT_TRANSACTIONS until the coordinator has written the
 *   last one's markers (a few ms). kafkajs fails the whole send, refreshes the cluster metadata and retries it with
 *   exponential back-off (5, 10, 20, 40 ms… with our settings; measured: the tail of a loaded task's commit time).
 *   Here AddPartitionsToTxn and AddOffsetsToTxn themselves are retried every 1–8 ms, for up to 2 s, without those,
 *   as the Java client does (KAFKA-5477); the coordinators are kept.
 */
export function withRememberedCoordinators<O extends { cluster: Coordinators }>(create: (o: O) => EosManager): (o: O) => EosManager {
  return (o) => {
    const nodes = new Map<string, number>();
    const cluster = Object.create(o.cluster, {
      findGroupCoordinator: {
        value: async ({ groupId, coordinatorType }: { groupId: string; coordinatorType: number }) => {
          const key = `${coordinatorType}:${groupId}`;
          let nodeId = nodes.get(key);
          if (nodeId === undefined) {
            nodeId = (await o.cluster.findGroupCoordinatorMetadata({ groupId, coordinatorType })).coordinator.nodeId;
            nodes.set(key, nodeId);
          }
          const broker = await o.cluster.findBroker({ nodeId });
          return coordinatorType === TRANSACTION_COORDINATOR ? retryingConcurrent(broker as TransactionCoordinator) : broker;
        },
      },
    }) as Coordinators;
    const manager = create({ ...o, cluster });
    for (const step of TRANSACTION_STEPS) {
      const original = manager[step] as (...args: unknown[]) => Promise<unknown>;
      manager[step] = (...args: unknown[]) => original.apply(manager, args).catch((err: unknown) => {
        if (errorType(err) !== CONCURRENT_TRANSACTIONS) nodes.clear();
        throw err;
      });
    }
    return manager;
  };
}
