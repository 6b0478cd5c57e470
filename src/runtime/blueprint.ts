import type { Processor } from './processor.ts';
import type { Serde, SerdeRegistry } from './records.ts';
import type { StagedStore } from './store.ts';
import type { DeadLetterValue, TaskDeps, TaskInput } from './task.ts';
import type { TopicCatalog } from './topology.ts';

/** What one task runs: its processors (by logical input topic) and its stores (by logical changelog topic). */
export interface TaskBlueprint {
  processors: Processor[];
  stores: Map<string, StagedStore<unknown>>;
  /** Dead letters under these keys keep no original bytes (an erased customer's data must not stay in the dlq). */
  withholdDeadLetter?: (key: string) => boolean;
}

/** Resolves a blueprint against the topology and serdes: physical input topics, changelogs and the dead-letter topic. */
export function wireTask(bp: TaskBlueprint, topology: TopicCatalog, serdes: SerdeRegistry): Pick<TaskDeps, 'inputs' | 'changelogs' | 'deadLetter'> {
  const inputs = new Map<string, TaskInput>();
  for (const proc of bp.processors) {
    for (const logical of proc.inputs) {
      const topic = topology.topic(logical).name;
      const input = inputs.get(topic);
      if (input) input.processors.push(proc); // the builder checked that they share the role
      else inputs.set(topic, { processors: [proc], serde: serdes.forTopic(logical) });
    }
  }
  const changelogs = new Map<string, { store: StagedStore<unknown>; serde: Serde }>();
  for (const [logical, store] of bp.stores) changelogs.set(topology.topic(logical).name, { store, serde: serdes.forTopic(logical) });
  const dlq = topology.topic('dlq');
  return { inputs, changelogs, deadLetter: { topic: dlq.name, serde: serdes.forTopic<DeadLetterValue>(dlq.logical), withhold: bp.withholdDeadLetter } };
}
