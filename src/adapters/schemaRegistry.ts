import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';
import { ConsentgateError } from '../errors.ts';
import { httpsAgent } from './tls.ts';
import type { Serde, SerdeRegistry } from '../runtime/records.ts';
import type { Topology } from '../runtime/topology.ts';

const MAGIC = 0;
/** mappersmith's ESM and CJS typings differ; the middleware is the same function either way. */
type RegistryMiddleware = NonNullable<NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]>['middlewares']>[number];
const REQUEST_TIMEOUT_MS = 15_000;
/** Attempts per registration when requests time out (a registry that just started can be slow to answer). */
const REGISTER_ATTEMPTS = 4;
type Resolver = ReturnType<avro.Type['createResolver']>;

export type { Serde, SerdeRegistry };

function readSchema(dir: string, name: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(readFileSync(join(dir, `${name}.avsc`), 'utf8')) as avro.Schema);
}

/**
 * Registers every topic's value schema under `<topic>-value` (topic-name strategy) and returns serdes that encode
 * with the local schema and decode with the writer's schema (fetched by id once) resolved to the local one.
 */
export async function registerSchemas(opts: {
  url: string;
  username?: string;
  password?: string;
  /** The CA that signed an https registry's certificate. */
  caFile?: string;
  schemasDir: string;
  topology: Topology;
  /** Set by `run`: while the registry cannot be reached, say so and keep trying (backing off to 15 s) instead of failing. */
  waitWhileUnavailable?: (message: string) => void;
}): Promise<SerdeRegistry> {
  const auth = opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
  // A request that gets no answer times out instead of hanging the start for ever; mappersmith's retry middleware
  // does not retry a timeout, so a registration (idempotent) is tried again here, a few times, before it fails.
  const agent = httpsAgent({ caFile: opts.caFile });
  const registry = new SchemaRegistry({ host: opts.url, ...(auth ? { auth } : {}), ...(agent ? { agent } : {}), retry: { retries: 5 }, middlewares: [TimeoutMiddleware(REQUEST_TIMEOUT_MS) as unknown as RegistryMiddleware] });
  const serdes = new Map<string, Serde>();

  for (const def of opts.topology.topics.values()) {
    if (def.valueSchema === null) continue;
    const type = readSchema(opts.schemasDir, def.valueSchema);
    let id: number | undefined;
    for (let attempt = 1, waited = 0; id === undefined; attempt++) {
      try {
        ({ id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(type.schema({ exportAttrs: true })) }, { subject: `${def.name}-value` }));
      } catch (err) {
        // A timeout, or another instance starting at the same moment that created the subject's compatibility rule
        // between this one's look-up and its own creation (Apicurio: "A rule named 'COMPATIBILITY' already exists"):
        // registering again finds what is there, and a schema already registered gets its id back.
        if (attempt < REGISTER_ATTEMPTS && /Timeout \(\d+ms\)|already exists/i.test((err as Error).message)) continue;
        const e = registrationError(`${def.name}-value`, opts.url, err);
        if (!e.retriable || !opts.waitWhileUnavailable) throw e;
        const delay = Math.min(15_000, 1000 * 2 ** waited++);
        opts.waitWhileUnavailable(`${e.message}; trying again in ${delay / 1000} s`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    serdes.set(def.logical, wireSerde(type, id, def.valueSchema, async (writerId) => (await registry.getSchema(writerId)) as unknown as avro.Type));
  }
  return serdeRegistry(serdes);
}

/** Why a registration failed: our schema or settings (not retriable), or the registry (SCHEMA_REGISTRY_UNAVAILABLE). */
function registrationError(subject: string, url: string, err: unknown): ConsentgateError {
  const status = (err as { status?: number }).status;
  const message = (err as Error).message;
  if (status === 409) return new ConsentgateError('CONFIG_INVALID', `the schema of ${subject} is not compatible with the versions registered at ${url}: ${message}`);
  if (status === 401 || status === 403) return new ConsentgateError('CONFIG_INVALID', `the schema registry at ${url} refused the credentials (${status}) registering ${subject}: set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`);
  return new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', `registering ${subject} at ${url}: ${message}`, true, { cause: err });
}

/**
 * Serdes of every topic with schema ids assigned locally (1, 2, …) instead of by a registry: the same wire format
 * and Avro encoding, for the in-memory topology tests, where no registry runs. Other writers' schemas come from
 * `writerSchema` (by default none: an unknown id, as a registry's 404).
 */
export function localSerdes(schemasDir: string, topology: Topology, writerSchema?: (id: number) => Promise<avro.Type>): SerdeRegistry {
  const serdes = new Map<string, Serde>();
  const unknown = async (id: number): Promise<avro.Type> => {
    throw Object.assign(new Error(`schema id ${id} is not known locally`), { status: 404 });
  };
  for (const def of topology.topics.values()) {
    if (def.valueSchema === null) continue;
    serdes.set(def.logical, wireSerde(readSchema(schemasDir, def.valueSchema), serdes.size + 1, def.valueSchema, writerSchema ?? unknown));
  }
  return serdeRegistry(serdes);
}

/** One topic's serde: encodes with `type` under schema `id`; decodes other writers' schemas resolved to `type`. */
function wireSerde(type: avro.Type, id: number, name: string, writerSchema: (id: number) => Promise<avro.Type>): Serde {
  const header = Buffer.alloc(5);
  header.writeUInt8(MAGIC, 0);
  header.writeInt32BE(id, 1);
  let scratch = Buffer.alloc(64 * 1024);
  const resolvers = new Map<number, Resolver>(); // writer schema id → resolver to the local schema
  /**
   * The resolver from a writer's schema to ours. The record's fault (DESERIALIZATION_FAILED: an id the registry
   * does not know, a schema ours cannot read) or the registry's (SCHEMA_REGISTRY_UNAVAILABLE, retriable: refused,
   * timed out, 5xx, credentials refused): a record must never be dead-lettered because the registry is down.
   */
  const resolverFor = async (writerId: number): Promise<Resolver | undefined> => {
    if (writerId === id) return undefined;
    let r = resolvers.get(writerId);
    if (!r) {
      let writer: avro.Type;
      try {
        writer = await writerSchema(writerId);
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 404 || status === 422) throw new ConsentgateError('DESERIALIZATION_FAILED', `schema id ${writerId} is not in the registry: ${(err as Error).message}`);
        throw new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', `fetching schema id ${writerId} for ${name}: ${(err as Error).message}`, true, { cause: err });
      }
      try {
        r = type.createResolver(writer);
      } catch (err) {
        throw new ConsentgateError('DESERIALIZATION_FAILED', `schema id ${writerId} cannot be read as ${name}: ${(err as Error).message}`);
      }
      resolvers.set(writerId, r);
    }
    return r;
  };
  return {
    schemaId: id,
    encode: (value) => {
      // Header and body in one allocation: encode into a scratch buffer, then copy out exactly what was written.
      let end = type.encode(value, scratch, 5);
      if (end < 0) {
        scratch = Buffer.alloc(Math.max(2 * scratch.length, scratch.length - end));
        end = type.encode(value, scratch, 5);
      }
      header.copy(scratch, 0);
      return Buffer.from(scratch.subarray(0, end));
    },
    decodeCurrent: (bytes) => {
      if (bytes.length < 5 || bytes.readUInt8(0) !== MAGIC || bytes.readInt32BE(1) !== id) {
        throw new ConsentgateError('DESERIALIZATION_FAILED', `not ${name} in schema id ${id}`);
      }
      return type.fromBuffer(bytes.subarray(5));
    },
    decode: async (bytes) => {
      if (!bytes || bytes.length < 6 || bytes.readUInt8(0) !== MAGIC) {
        throw new ConsentgateError('DESERIALIZATION_FAILED', 'not in the Confluent wire format (magic byte 0, schema id, Avro body)');
      }
      const writerId = bytes.readInt32BE(1);
      const resolver = await resolverFor(writerId);
      try {
        return type.fromBuffer(bytes.subarray(5), resolver) as unknown;
      } catch (err) {
        throw new ConsentgateError('DESERIALIZATION_FAILED', `invalid Avro body for ${name} (schema id ${writerId}): ${(err as Error).message}`);
      }
    },
  };
}

/**
 * Decodes a connector's input, waiting while the registry cannot serve its writer schema (a record is never skipped
 * for an outage): tries again after 1 s, doubling to 15 s, calling `heartbeat` so the consumer keeps its group
 * membership. The record's own faults (DESERIALIZATION_FAILED) are thrown at once.
 */
export async function decodeWaiting<T>(serde: Serde<T>, bytes: Buffer | null, o: { heartbeat?: () => Promise<void>; warn: (message: string) => void; retryMs?: number }): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await serde.decode(bytes);
    } catch (err) {
      if (!(err instanceof ConsentgateError) || !err.retriable) throw err;
      if (attempt === 0) o.warn(`${err.message}: waiting for the schema registry`);
      await new Promise((r) => setTimeout(r, Math.min(15_000, (o.retryMs ?? 1000) * 2 ** attempt)));
      await o.heartbeat?.();
    }
  }
}

function serdeRegistry(serdes: Map<string, Serde>): SerdeRegistry {
  return {
    forTopic<T>(logical: string): Serde<T> {
      const s = serdes.get(logical);
      if (!s) throw new Error(`no serde for topic ${logical}`);
      return s as Serde<T>;
    },
  };
}
