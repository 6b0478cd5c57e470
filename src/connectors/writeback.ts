import type { GenesysClient } from '../adapters/genesys.ts';
import { consumeBatches, type Kafka } from '../adapters/kafka.ts';
import { decodeWaiting } from '../adapters/schemaRegistry.ts';
import type { Logger } from '../adapters/logger.ts';
import type { Serde } from '../adapters/schemaRegistry.ts';
import { baseFieldName, CONSENT_SOURCE_FIELD, CONSENT_TIMESTAMP_FIELD, consentWritebackOf } from '../domain/genesysEvents.ts';
import type { ConsentEvent } from '../domain/types.ts';

const SCHEMA_NAME = 'ComplianceConsent';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Contact {
  id: string;
  schema?: { id: string; version?: number } | null;
  customFields?: Record<string, unknown> | null;
}

/** The org's ComplianceConsent schema: field name without type suffix → the key Genesys uses. */
async function consentSchema(genesys: GenesysClient): Promise<{ ref: { id: string; version: number }; keys: Map<string, string> }> {
  const res = await genesys.call<{ entities?: { id: string; name: string; version: number; jsonSchema?: { properties?: Record<string, unknown> } }[] }>(
    'getExternalcontactsContactsSchemas', (a) => a.externalContacts.getExternalcontactsContactsSchemas!());
  const s = res.entities?.find((e) => e.name === SCHEMA_NAME);
  if (!s) throw new Error(`the Genesys org has no external-contact schema named ${SCHEMA_NAME}: create it (README, "Genesys setup") or disable the writeback connector`);
  return { ref: { id: s.id, version: s.version }, keys: new Map(Object.keys(s.jsonSchema?.properties ?? {}).map((k) => [baseFieldName(k), k])) };
}

/**
 * consent.events → the external contact's ComplianceConsent fields, so agents and Genesys flows see the consent
 * that web forms, IVR and agents gave through the intake. A consumer group of its own: a failed write is retried
 * (the SDK client already waited out 429s and 5xx) until it succeeds or the contact turns out not to exist, and
 * its offset is committed only then, so no write-back is lost across restarts.
 */
export async function startWriteback(o: { kafka: Kafka; groupId: string; topic: string; serde: Serde<ConsentEvent>; genesys: GenesysClient; logger: Logger }) {
  const schema = await consentSchema(o.genesys);
  const stats = { written: 0, skipped: 0, unknownContacts: 0, retries: 0 };
  let stopping = false;
  const key = (field: string) => schema.keys.get(field) ?? field;

  const writeOne = async (e: ConsentEvent) => {
    let contact: Contact;
    try {
      contact = await o.genesys.call<Contact>('getExternalcontactsContact', (a) => a.externalContacts.getExternalcontactsContact!(e.customerId));
    } catch (err) {
      if ((err as { status?: number }).status === 404) {
        stats.unknownContacts++;
        o.logger.warn({ customerId: e.customerId, eventId: e.eventId }, 'write-back skipped: no such external contact in Genesys');
        return;
      }
      throw err;
    }
    const w = consentWritebackOf(e, contact.customFields ?? {});
    if (w.kind === 'skip') {
      stats.skipped++;
      return;
    }
    const customFields: Record<string, unknown> = { ...(contact.customFields ?? {}) };
    for (const [field, granted] of Object.entries(w.flags)) customFields[key(field)] = granted;
    customFields[key(CONSENT_TIMESTAMP_FIELD)] = new Date(w.capturedAt).toISOString();
    customFields[key(CONSENT_SOURCE_FIELD)] = w.sourceText;
    const body = { ...contact, schema: contact.schema ?? schema.ref, customFields };
    await o.genesys.call('putExternalcontactsContact', (a) => a.externalContacts.putExternalcontactsContact!(e.customerId, body));
    stats.written++;
  };

  const consumer = await consumeBatches(o.kafka, {
    groupId: o.groupId,
    topic: o.topic,
    async handle(records, heartbeat) {
      for (const r of records) {
        let e: ConsentEvent;
        try {
          e = await decodeWaiting(o.serde, r.value, { heartbeat, warn: (m) => o.logger.warn(m) });
        } catch {
          continue; // the consent-table processor dead-letters undecodable events
        }
        for (let attempt = 1; ; attempt++) {
          try {
            await writeOne(e);
            break;
          } catch (err) {
            if (stopping) throw err;
            stats.retries++;
            o.logger.error({ eventId: e.eventId, attempt, err: (err as Error).message }, 'consent write-back failed: retrying');
            await sleep(Math.min(60_000, 500 * 2 ** Math.min(attempt, 7)));
          }
        }
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
