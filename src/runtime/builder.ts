import type { TaskBlueprint } from './blueprint.ts';
import type { KeyValueStore, Processor } from './processor.ts';
import type { SerdeRegistry } from './records.ts';
import { StagedStore, type StoreCodec } from './store.ts';
import { generationTopic, type TopicCatalog } from './topology.ts';

/** What a processor does; its name, role, inputs, stores and outputs are declared with the builder. */
export type ProcessorLogic<V = unknown> = Omit<Processor<V>, 'name' | 'role' | 'inputs'>;

export interface StoreDecl {
  /** Logical changelog topic: every committed write is logged there; a task restores the store from it. */
  changelog: string;
  key: string;
  value: string;
  /** Keep committed values as bytes of this codec, off the JavaScript heap (decoded on read): for a store of every customer. */
  codec?: StoreCodec<unknown>;
}

export interface ProcessorDecl {
  doc: string;
  /** 'table' inputs are applied before any 'stream' input of the same task is decided (read-your-revocation). */
  role: 'table' | 'stream';
  /** Logical input topics. Processors sharing one see each record in declaration order. */
  inputs: string[];
  /** Stores it writes (their changelogs are outputs of it). */
  stores: string[];
  /** Stores it only reads: it gets a view whose writes throw. */
  reads?: string[];
  /** Logical topics it writes (besides its stores' changelogs); writing another one is an error. */
  outputs: string[];
}

export interface SourceDecl {
  doc: string;
  /** A logical topic, or a description of where it reads (Genesys Cloud, HTTP). */
  from: string;
  outputs: string[];
}

/** What a processor's factory gets: its declared stores, topic names and serdes, and the application's deps. */
export interface BuildContext<Deps> {
  deps: Deps;
  store<V>(name: string): KeyValueStore<V>;
  /** Physical name of a logical topic. */
  topic(logical: string): string;
  /** Logical topic of a sink (as the policy names it). */
  sink(name: string): string;
  /** Physical name of a per-generation topic (a sink's) for a policy generation. */
  generationTopic(logical: string, generation: number): string;
  serdes: SerdeRegistry;
}

/** The graph as declared: what `describe` prints and what the engine instantiates per partition. */
export interface Graph<Deps> {
  catalog: TopicCatalog;
  stores: ReadonlyMap<string, StoreDecl>;
  /** `writes`: every logical topic the processor may write (its outputs and its stores' changelogs). */
  processors: readonly { name: string; decl: ProcessorDecl; writes: string[] }[];
  sources: ReadonlyMap<string, SourceDecl>;
  /** Sink name (as the policy names it) → logical topic. */
  sinks: ReadonlyMap<string, string>;
  /** Logical input topics, table inputs first. */
  inputs(role?: 'table' | 'stream'): string[];
  /** A fresh set of processors and stores for one task. */
  instantiate(deps: Deps, serdes: SerdeRegistry): TaskBlueprint;
}

/**
 * Declares a topology once, in the spirit of Kafka Streams' Topology: stores, processors (with their inputs,
 * stores and outputs), sinks and, for the picture, the source connectors beside it. `build` checks the declaration
 * against the topic catalog (topologies/*.json keeps topics and their configs only) and lists every mismatch.
 */
export class TopologyBuilder<Deps> {
  private readonly stores = new Map<string, StoreDecl>();
  private readonly processors: { name: string; decl: ProcessorDecl; create: (ctx: BuildContext<Deps>) => ProcessorLogic<never> }[] = [];
  private readonly sources = new Map<string, SourceDecl>();
  private readonly sinks = new Map<string, string>();
  private withhold?: (store: <V>(name: string) => KeyValueStore<V>) => (key: string) => boolean;

  addStore(name: string, decl: StoreDecl): this {
    this.stores.set(name, decl);
    return this;
  }

  addProcessor<V>(name: string, decl: ProcessorDecl, create: (ctx: BuildContext<Deps>) => ProcessorLogic<V>): this {
    this.processors.push({ name, decl, create: create as (ctx: BuildContext<Deps>) => ProcessorLogic<never> });
    return this;
  }

  addSink(name: string, logical: string): this {
    this.sinks.set(name, logical);
    return this;
  }

  addSource(name: string, decl: SourceDecl): this {
    this.sources.set(name, decl);
    return this;
  }

  /** Dead letters under the keys this predicate (over the task's stores) accepts keep no original bytes. */
  withholdDeadLetters(predicate: (store: <V>(name: string) => KeyValueStore<V>) => (key: string) => boolean): this {
    this.withhold = predicate;
    return this;
  }

  build(catalog: TopicCatalog): Graph<Deps> {
    const problems: string[] = [];
    const used = new Set<string>();
    const known = (logical: string, where: string) => {
      used.add(logical);
      if (!catalog.topics.has(logical)) problems.push(`${where} uses topic ${logical}, which ${catalog.file} does not declare`);
    };
    for (const [name, s] of this.stores) known(s.changelog, `store ${name}`);
    for (const { name, decl } of this.processors) {
      for (const t of [...decl.inputs, ...decl.outputs]) known(t, `processor ${name}`);
      for (const s of [...decl.stores, ...(decl.reads ?? [])]) if (!this.stores.has(s)) problems.push(`processor ${name} uses store ${s}, which is not declared`);
    }
    for (const [name, s] of this.sources) {
      for (const t of s.outputs) known(t, `source ${name}`);
      used.add(s.from);
    }
    for (const [name, t] of this.sinks) known(t, `sink ${name}`);
    for (const t of ['dlq', 'audit.decisions']) known(t, 'the runtime');
    for (const t of catalog.topics.keys()) if (!used.has(t)) problems.push(`${catalog.file} declares topic ${t}, which nothing in the topology uses`);
    const byInput = new Map<string, string>();
    for (const { name, decl } of this.processors) {
      for (const t of decl.inputs) {
        const other = this.processors.find((p) => p.name === byInput.get(t));
        if (other && other.decl.role !== decl.role) problems.push(`processors ${other.name} and ${name} read ${t} with different roles`);
        byInput.set(t, name);
      }
    }
    if (problems.length) throw new Error(`topology does not match ${catalog.file}:\n${problems.map((p) => `  ${p}`).join('\n')}`);

    const { stores, sources, sinks, withhold } = this;
    const processors = this.processors.map((p) => ({ ...p, writes: [...p.decl.outputs, ...p.decl.stores.map((s) => stores.get(s)!.changelog)] }));
    const inputs = (role?: 'table' | 'stream') => [...new Set(processors.filter((p) => !role || p.decl.role === role).flatMap((p) => p.decl.inputs))];
    return {
      catalog, stores, processors, sources, sinks,
      inputs: (role) => (role ? inputs(role) : [...inputs('table'), ...inputs('stream')]),
      instantiate(deps, serdes) {
        const instances = new Map([...stores].map(([name, s]) => [name, new StagedStore<unknown>(s.codec ? { codec: s.codec } : undefined)]));
        const topic = (logical: string) => catalog.topic(logical).name;
        return {
          processors: processors.map(({ name, decl, writes, create }) => {
            const store = <V>(s: string): KeyValueStore<V> => {
              const instance = instances.get(s) as unknown as KeyValueStore<V>;
              if (decl.stores.includes(s)) return instance;
              if (!decl.reads?.includes(s)) throw new Error(`processor ${name} does not declare store ${s}`);
              const refuse = () => { throw new Error(`processor ${name} declares store ${s} as read-only`); };
              return { get: (k) => instance.get(k), entries: () => instance.entries(), get size() { return instance.size; }, put: refuse, delete: refuse };
            };
            const sink = (s: string) => {
              const logical = sinks.get(s);
              if (!logical) throw new Error(`no sink ${s} is declared`);
              return logical;
            };
            const logic = create({ deps, store, topic, sink, serdes, generationTopic: (l, g) => generationTopic(catalog.topic(l), g) });
            const declared = new Set(writes.map(topic));
            // A per-generation output (a sink) may be written under any generation's name: sink.crm, sink.crm.v2, …
            const generational = writes.filter((l) => catalog.topic(l).generations).map((l) => `${topic(l)}.v`);
            const outputs = { has: (t: string) => declared.has(t) || generational.some((g) => t.startsWith(g) && /^[1-9]\d*$/.test(t.slice(g.length))) };
            return { ...logic, name, role: decl.role, inputs: decl.inputs, outputs } as Processor;
          }),
          stores: new Map([...stores].map(([name, s]) => [s.changelog, instances.get(name)!])),
          withholdDeadLetter: withhold?.(<V>(s: string) => instances.get(s)! as unknown as KeyValueStore<V>),
        };
      },
    };
  }
}
