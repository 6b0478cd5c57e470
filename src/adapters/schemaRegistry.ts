import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { ConsentgateError } from '../errors.ts';
import type { Topology } from '../runtime/topology.ts';

const MAGIC = 0;
type Resolver = ReturnType<avro.Type['createResolver']>;

/** Encodes and decodes one topic's values in the Confluent wire format: 0x00, int32 schema id, Avro body. */
export interface Serde<T = unknown> {
  readonly schemaId: number;
  encode(value: T): Buffer;
  /** Throws ConsentgateError DESERIALIZATION_FAILED on bytes that are not a valid value. */
  decode(bytes: Buffer | null): Promise<T>;
}

export interface SerdeRegistry {
  /** The serde of a logical topic (e.g. 'consent.events'). */
  forTopic<T>(logical: string): Serde<T>;
}

function readSchema(dir: string, name: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(readFileSync(join(dir, `${name}.avsc`), 'utf8')) as avro.Schema);
}

/**
 * Registers every topic's value schema under `<topic>-value` (topic-name strategy) and returns serdes that encode
 * with the local schema and decode with the writer's schema (fetched by id once) resolved to the local one.
 */
export async function registerSchemas(opts: { url: string; username?: string; password?: string; schemasDir: string; topology: Topology }): Promise<SerdeRegistry> {
  const auth = opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
  const registry = new SchemaRegistry({ host: opts.url, ...(auth ? { auth } : {}), retry: { retries: 5 } });
  const serdes = new Map<string, Serde>();

  for (const def of opts.topology.topics.values()) {
    if (def.valueSchema === null) continue;
    const type = readSchema(opts.schemasDir, def.valueSchema);
    let id: number;
    try {
      ({ id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(type.schema()) }, { subject: `${def.name}-value` }));
    } catch (err) {
      throw new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', `registering ${def.name}-value at ${opts.url}: ${(err as Error).message}`, true, { cause: err });
    }
    const header = Buffer.alloc(5);
    header.writeUInt8(MAGIC, 0);
    header.writeInt32BE(id, 1);
    const resolvers = new Map<number, Resolver>(); // writer schema id → resolver to the local schema
    const resolverFor = async (writerId: number): Promise<Resolver | undefined> => {
      if (writerId === id) return undefined;
      let r = resolvers.get(writerId);
      if (!r) {
        const writer = (await registry.getSchema(writerId)) as unknown as avro.Type;
        r = type.createResolver(writer);
        resolvers.set(writerId, r);
      }
      return r;
    };
    serdes.set(def.logical, {
      schemaId: id,
      encode: (value) => Buffer.concat([header, type.toBuffer(value)]),
      decode: async (bytes) => {
        if (!bytes || bytes.length < 6 || bytes.readUInt8(0) !== MAGIC) {
          throw new ConsentgateError('DESERIALIZATION_FAILED', 'not in the Confluent wire format (magic byte 0, schema id, Avro body)');
        }
        const writerId = bytes.readInt32BE(1);
        let resolver: Resolver | undefined;
        try {
          resolver = await resolverFor(writerId);
        } catch (err) {
          throw new ConsentgateError('DESERIALIZATION_FAILED', `schema id ${writerId} cannot be read as ${def.valueSchema}: ${(err as Error).message}`);
        }
        try {
          return type.fromBuffer(bytes.subarray(5), resolver) as unknown;
        } catch (err) {
          throw new ConsentgateError('DESERIALIZATION_FAILED', `invalid Avro body for ${def.valueSchema} (schema id ${writerId}): ${(err as Error).message}`);
        }
      },
    });
  }
  return {
    forTopic<T>(logical: string): Serde<T> {
      const s = serdes.get(logical);
      if (!s) throw new Error(`no serde for topic ${logical}`);
      return s as Serde<T>;
    },
  };
}
