import type { Kafka } from '../adapters/kafka.ts';
import type { OutRecord } from '../adapters/kafka.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import { readTopic } from '../adapters/topicReader.ts';
import type { Clock } from '../domain/clock.ts';
import type { Topology } from '../runtime/topology.ts';

interface ConnectorStateValue {
  connector: string;
  state: string;
  updatedAt: number;
}

/**
 * Connector checkpoints in the compacted connect.offsets topic (as Kafka Connect keeps source offsets): key
 * `<connector>:<name>`, value the connector's JSON state, a tombstone to forget. Read committed, so a checkpoint
 * written in the same transaction as the records it covers is seen exactly when they are.
 */
export class Checkpoints {
  private constructor(
    private readonly states: Map<string, unknown>,
    private readonly d: { topic: string; serdes: SerdeRegistry; clock: Clock },
  ) {}

  static async load(kafka: Kafka, topology: Topology, serdes: SerdeRegistry, clock: Clock): Promise<Checkpoints> {
    const topic = topology.topic('connect.offsets').name;
    const serde = serdes.forTopic<ConnectorStateValue>('connect.offsets');
    const states = new Map<string, unknown>();
    for (const r of await readTopic(kafka, topic)) {
      const key = r.key?.toString('utf8');
      if (!key) continue;
      if (r.value === null) states.delete(key);
      else states.set(key, JSON.parse((await serde.decode(r.value)).state) as unknown);
    }
    return new Checkpoints(states, { topic, serdes, clock });
  }

  get<T>(key: string): T | undefined {
    return this.states.get(key) as T | undefined;
  }

  /** Keys (and states) under a prefix, e.g. every `integrations:` entry. */
  entries<T>(prefix: string): [string, T][] {
    return [...this.states].filter(([k]) => k.startsWith(prefix)) as [string, T][];
  }

  /** The record that stores `state` (null: forgets the key); the in-memory view changes at once. */
  record(key: string, state: unknown | null): OutRecord {
    const connector = key.split(':')[0]!;
    if (state === null) {
      this.states.delete(key);
      return { topic: this.d.topic, key, value: null };
    }
    this.states.set(key, state);
    const value: ConnectorStateValue = { connector, state: JSON.stringify(state), updatedAt: this.d.clock.now() };
    return { topic: this.d.topic, key, value: this.d.serdes.forTopic<ConnectorStateValue>('connect.offsets').encode(value) };
  }
}
