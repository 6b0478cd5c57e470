// kafkajs' transaction manager (see index.ts).

export interface Coordinators {
  findGroupCoordinatorMetadata(o: { groupId: string; coordinatorType: number }): Promise<{ coordinator: { nodeId: number } }>;
  findBroker(o: { nodeId: number }): Promise<unknown>;
}
export type EosManager = Record<string, unknown>;
const TRANSACTION_STEPS = ['initProducerId', 'addPartitionsToTransaction', 'sendOffsets', 'commit', 'abort'];

/**
 * kafkajs' transaction manager asks the cluster for the transaction coordinator before every step and for the group
 * coordinator before every offset commit — four FindCoordinator round trips in each transaction besides the five
 * it needs (AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn). This wraps its factory so that
 * each transactional producer remembers its coordinators (as the Java client does) and forgets them when any
 * transaction step fails, so a step retried after a coordinator moved looks them up again.
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
          return o.cluster.findBroker({ nodeId });
        },
      },
    }) as Coordinators;
    const manager = create({ ...o, cluster });
    for (const step of TRANSACTION_STEPS) {
      const original = manager[step] as (...args: unknown[]) => Promise<unknown>;
      manager[step] = (...args: unknown[]) => original.apply(manager, args).catch((err: unknown) => {
        nodes.clear();
        throw err;
      });
    }
    return manager;
  };
}
