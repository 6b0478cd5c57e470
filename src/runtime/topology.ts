import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FIELD_ACTIONS, PERSONAL_FIELDS, type Policy } from '../domain/policy.ts';
import { TRANSFER_SAFEGUARDS } from '../domain/classification.ts';
import { DELETION_CAPABILITIES, type Vendor } from '../domain/purge.ts';
import { PURPOSES } from '../domain/types.ts';
import type { Graph, TopologyBuilder } from './builder.ts';

const TopicSpec = z.object({
  /** Avro schema in schemas/; null for a topic of raw JSON written by something else (an EventBridge bridge). */
  valueSchema: z.string().nullable(),
  partitions: z.number().int().positive().optional(),
  /** One physical topic per policy generation (sink topics): see generationTopic. */
  generations: z.boolean().default(false),
  config: z.record(z.string(), z.string()).default({}),
});

/** The topic catalog: topics and their configs only; the graph is declared in code (src/topology.ts). */
const TopologyFile = z.strictObject({
  applicationId: z.string().min(1),
  description: z.string().default(''),
  copartitioned: z.object({ partitions: z.number().int().positive(), topics: z.array(z.string()) }),
  topics: z.record(z.string(), TopicSpec),
});

const PolicyFile = z.object({
  version: z.string().min(1),
  /** Which generation of sink topics the policy writes (sink.crm for 1, sink.crm.v2 for 2, …); see `consentgate replay`. */
  generation: z.number().int().positive().default(1),
  description: z.string().default(''),
  sinks: z.record(z.string(), z.object({
    requires: z.array(z.enum(PURPOSES)).min(1),
    defaultAction: z.enum(FIELD_ACTIONS),
    fields: z.partialRecord(z.enum(PERSONAL_FIELDS), z.enum(FIELD_ACTIONS)).default({}),
    /** Also land the sink's records in the consent-aware analytics store (consentgate analytics). */
    store: z.literal('postgres').optional(),
  })),
  sessionGuard: z.object({ purposes: z.array(z.enum(PURPOSES)), doc: z.string().optional() }).default({ purposes: [...PURPOSES] }),
});

const VendorsFile = z.object({
  description: z.string().default(''),
  vendors: z.record(z.string().regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and -'), z.object({
    /** Sinks it reads; none for a vendor that only an integration sends data to. */
    sinks: z.array(z.string()).default([]),
    retentionPolicyId: z.string().min(1),
    /** "HARD" is the earlier spelling of HARD_API. */
    deletion: z.preprocess((v) => (v === 'HARD' ? 'HARD_API' : v), z.enum(DELETION_CAPABILITIES)),
    contractualRetentionDays: z.number().int().nonnegative().optional(),
    deletionSlaHours: z.number().positive().optional(),
    safeguards: z.array(z.enum(TRANSFER_SAFEGUARDS)).default([]),
    integrations: z.array(z.string().min(1)).default([]),
    ackSlaHours: z.number().positive().default(24),
    /** Host names it receives data on (how a DPIA recognises the vendor behind a destination). */
    hosts: z.array(z.string()).default([]),
    /** How long it keeps data; compared with the source's retention in a DPIA. */
    retentionDays: z.number().int().nonnegative().optional(),
    /** The consentgate analytics store: the store connector executes its purge commands and acknowledges them. */
    store: z.literal('postgres').optional(),
  })),
});

export interface TopicDef {
  /** Logical name, as in docs/DESIGN.md (e.g. consent.events). */
  logical: string;
  /** Name on the cluster: prefix + logical name. */
  name: string;
  partitions: number;
  valueSchema: string | null;
  config: Record<string, string>;
  /** One physical topic per policy generation (see generationTopic). */
  generations: boolean;
}

/** The physical topic of a per-generation topic for policy generation `generation`: as declared for 1, `.v<N>` after. */
export function generationTopic(def: TopicDef, generation: number): string {
  if (!def.generations) throw new Error(`topic ${def.logical} has no generations`);
  return generation <= 1 ? def.name : `${def.name}.v${generation}`;
}

/** The topics of a topology file with every name resolved against the topic prefix. */
export interface TopicCatalog {
  file: string;
  applicationId: string;
  description: string;
  topics: Map<string, TopicDef>;
  /** Resolves a logical topic name; throws on a name the catalog does not declare. */
  topic(logical: string): TopicDef;
}

/** A graph bound to its topic catalog: the single source of names at run time. */
export interface Topology<Deps = unknown> extends TopicCatalog {
  graph: Graph<Deps>;
  /** Sink name → topic def. */
  sinks: Map<string, TopicDef>;
}

/** Reads a JSON file and validates it; the error names the file and every problem. */
export function parseJson<T>(schema: z.ZodType<T>, file: string): T {
  return parseJsonText(schema, readFileSync(file, 'utf8'), file); // a read error keeps its code and path (ENOENT, EACCES, …)
}

/** Parses JSON text and validates it; the error names `where` and every problem. */
function parseJsonText<T>(schema: z.ZodType<T>, text: string, where: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw Object.assign(new Error(`${where}: not valid JSON: ${(err as Error).message}`), { code: 'INVALID_JSON' });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw Object.assign(new Error(`${where}:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`), { code: 'INVALID_INPUT' });
  return r.data;
}

export function loadCatalog(file: string, prefix = ''): TopicCatalog {
  const t = parseJson(TopologyFile, file);
  const topics = new Map<string, TopicDef>();
  for (const [logical, spec] of Object.entries(t.topics)) {
    const copart = t.copartitioned.topics.includes(logical);
    topics.set(logical, {
      logical,
      name: prefix + logical,
      partitions: copart ? t.copartitioned.partitions : (spec.partitions ?? 1),
      valueSchema: spec.valueSchema,
      config: spec.config,
      generations: spec.generations,
    });
  }
  const topic = (logical: string): TopicDef => {
    const def = topics.get(logical);
    if (!def) throw new Error(`topology ${file} declares no topic ${logical}`);
    return def;
  };
  for (const r of t.copartitioned.topics) topic(r);
  return { file, applicationId: prefix + t.applicationId, description: t.description, topics, topic };
}

/** Checks a graph against its catalog (every mismatch listed) and binds the two. */
export function bindTopology<Deps>(catalog: TopicCatalog, builder: TopologyBuilder<Deps>): Topology<Deps> {
  const graph = builder.build(catalog);
  return { ...catalog, graph, sinks: new Map([...graph.sinks].map(([sink, logical]) => [sink, catalog.topic(logical)])) };
}

export function loadPolicy(file: string, topology: Topology): Policy {
  return checkPolicy(parseJson(PolicyFile, file), file, topology);
}

/**
 * A policy document given as JSON text (a policy generation carried by a cutover marker or the generation log);
 * `where` names it in errors.
 */
export function parsePolicy(text: string, where: string, topology: Topology): Policy {
  return checkPolicy(parseJsonText(PolicyFile, text, where), where, topology);
}

function checkPolicy(p: z.infer<typeof PolicyFile>, where: string, topology: Topology): Policy {
  const unknown = Object.keys(p.sinks).filter((s) => !topology.sinks.has(s));
  const missing = [...topology.sinks.keys()].filter((s) => !(s in p.sinks));
  if (unknown.length || missing.length) {
    throw new Error(`${where}: policy sinks must match the topology's (unknown: ${unknown.join(', ') || '-'}; missing: ${missing.join(', ') || '-'})`);
  }
  return {
    version: p.version,
    generation: p.generation,
    sinks: Object.entries(p.sinks).map(([name, s]) => ({ name, requires: s.requires, defaultAction: s.defaultAction, fields: s.fields, ...(s.store ? { store: s.store } : {}) })),
    sessionGuard: { purposes: p.sessionGuard.purposes },
  };
}

/**
 * The vendor registry: every vendor's sinks must exist, and every sink must be read by a registered vendor — a sink
 * read by a vendor nobody registered is a flow no purge would ever reach.
 */
export function loadVendors(file: string, topology: Topology): Vendor[] {
  const v = parseJson(VendorsFile, file);
  const vendors = Object.entries(v.vendors).map(([name, x]) => ({
    name, sinks: x.sinks, retentionPolicyId: x.retentionPolicyId, deletion: x.deletion, ackSlaMs: Math.round(x.ackSlaHours * 3_600_000),
    hosts: x.hosts.map((h) => h.toLowerCase()), retentionDays: x.retentionDays ?? null, ...(x.store ? { store: x.store } : {}),
    contractualRetentionDays: x.contractualRetentionDays ?? null, deletionSlaHours: x.deletionSlaHours ?? null, safeguards: x.safeguards, integrations: x.integrations,
  }));
  const problems: string[] = [];
  for (const x of vendors) for (const s of x.sinks) if (!topology.sinks.has(s)) problems.push(`vendor ${x.name} reads unknown sink ${s}`);
  for (const x of vendors) if (!x.sinks.length && !x.integrations.length && !x.hosts.length) problems.push(`vendor ${x.name} reads no sink and names no integration or host: nothing reaches it`);
  for (const s of topology.sinks.keys()) if (!vendors.some((x) => x.sinks.includes(s))) problems.push(`sink ${s} is read by no registered vendor: register it in ${file}`);
  if (problems.length) throw new Error(`${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return vendors;
}

/** A readable, diffable picture of the graph, in the spirit of Kafka Streams' Topology#describe(). */
export function describeTopology(t: Topology, policy: Policy): string {
  const lines = [`Topology ${t.applicationId}: ${t.description}`, ''];
  lines.push('Topics:');
  for (const d of t.topics.values()) {
    const cfg = Object.entries(d.config).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push(`  ${d.name}${d.generations ? ' (one per policy generation: .vN for N > 1)' : ''}  partitions=${d.partitions} value=${d.valueSchema ?? 'raw JSON'}  ${cfg}`);
  }
  lines.push('', 'Stores:');
  for (const [name, s] of t.graph.stores) lines.push(`  ${name}  key=${s.key} value=${s.value} changelog=${t.topic(s.changelog).name}${s.codec ? ' (kept encoded, off the heap)' : ''}`);
  lines.push('', 'Sub-topology 0 (one task per partition; inputs co-partitioned; table inputs applied before stream inputs are decided):');
  for (const { name, decl, writes } of t.graph.processors) {
    lines.push(`  Processor: ${name} (${decl.role}; writes stores: ${decl.stores.join(', ') || '-'}; reads: ${decl.reads?.join(', ') || '-'})`);
    lines.push(`    <-- ${decl.inputs.map((i) => t.topic(i).name).join(', ')}`);
    lines.push(`    --> ${writes.map((o) => t.topic(o).name).join(', ')}`);
    if (decl.doc) lines.push(`    ${decl.doc}`);
  }
  lines.push('', 'Sources (connectors, started by `consentgate run` when configured):');
  for (const [name, src] of t.graph.sources) {
    lines.push(`  Source: ${name}  <-- ${t.topics.has(src.from) ? t.topic(src.from).name : src.from}`);
    lines.push(`    --> ${src.outputs.map((o) => t.topic(o).name).join(', ') || '(Genesys Cloud)'}`);
    if (src.doc) lines.push(`    ${src.doc}`);
  }
  lines.push('', `Policy ${policy.version} (generation ${policy.generation}):`);
  for (const s of policy.sinks) {
    const fields = Object.entries(s.fields).map(([f, a]) => `${f}:${a}`).join(' ');
    lines.push(`  ${s.name} -> ${generationTopic(t.sinks.get(s.name)!, policy.generation)}  requires ${s.requires.join('+')}  fields ${fields} (others: ${s.defaultAction})`);
  }
  lines.push(`  session guard: withdrawing ${policy.sessionGuard.purposes.join(', ') || 'nothing'} during a live conversation ends it`);
  return lines.join('\n');
}
