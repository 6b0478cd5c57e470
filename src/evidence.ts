// The evidence bundle of one customer: looked up by customer id, e-mail or phone (identifiers are matched by their
// pseudonym; the store holds no personal data), assembled from the evidence store, rendered as JSON or HTML.
import { resolve } from 'node:path';
import { EvidenceDb } from './adapters/evidenceDb.ts';
import { createFieldTransforms } from './adapters/fieldCrypto.ts';
import { openDb } from './adapters/postgres.ts';
import type { Config } from './config.ts';
import { assembleBundle, type EvidenceBundle } from './domain/evidence.ts';
import { normaliseEmail, normalisePhone } from './domain/identity.ts';
import type { Vendor } from './domain/purge.ts';
import { ConsentgateError } from './errors.ts';

export type Subject = { customerId: string } | { email: string } | { phone: string };

export function openEvidenceStore(config: Pick<Config, 'databaseUrl' | 'evidence'>): EvidenceDb {
  return new EvidenceDb(openDb({ databaseUrl: config.databaseUrl, dataDir: resolve(config.evidence.dir) }), config.evidence.schema);
}

/** The pseudonym the evidence store keeps for an identifier: the pipeline's HMAC pseudonym (CONSENTGATE_FIELD_KEY). */
export function identifierPseudonym(config: Pick<Config, 'fieldKey'>): (identifierKey: string) => string {
  if (!config.fieldKey) throw new ConsentgateError('CONFIG_INVALID', 'the evidence store keeps identifiers as pseudonyms: set CONSENTGATE_FIELD_KEY');
  const { pseudonymize } = createFieldTransforms(config.fieldKey);
  return (key) => pseudonymize(key);
}

/**
 * The bundle of the customer `subject` names, or why there is none: an e-mail or phone must be held by exactly
 * one contact (as the identity graph resolves them), and a customer the store knows nothing about has no bundle.
 */
export async function evidenceBundle(store: EvidenceDb, o: { subject: Subject; vendors: Vendor[]; pseudonym: (key: string) => string; now: number }): Promise<{ ok: true; bundle: EvidenceBundle } | { ok: false; status: 400 | 404; message: string }> {
  let customerId: string;
  let asked: string | undefined;
  if ('customerId' in o.subject) customerId = o.subject.customerId;
  else {
    const n = 'email' in o.subject ? normaliseEmail(o.subject.email) : normalisePhone(o.subject.phone);
    if (!n.ok) return { ok: false, status: 400, message: n.reason };
    asked = o.pseudonym(n.key);
    const found = await store.customerOf(asked);
    if (!('customerId' in found)) {
      return { ok: false, status: 404, message: found.holders ? `${found.holders} or more contacts hold this identifier: it names nobody; ask by customer id` : 'no contact holds this identifier' };
    }
    customerId = found.customerId;
  }
  const rows = await store.rows(customerId);
  if (!rows.identifiers.length && !rows.consentEvents.length && !rows.decisionsTotal && !rows.purgeCommands.length && !rows.erasures.length) {
    return { ok: false, status: 404, message: `the evidence store holds nothing about customer ${customerId}` };
  }
  return { ok: true, bundle: assembleBundle(rows, { vendors: o.vendors, now: o.now, asked }) };
}
