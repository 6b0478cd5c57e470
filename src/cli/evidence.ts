import { writeFileSync } from 'node:fs';
import { loadDefinitions } from '../app.ts';
import type { Config } from '../config.ts';
import { evidenceBundle, identifierPseudonym, openEvidenceStore, type Subject } from '../evidence.ts';
import { renderEvidenceHtml } from '../evidenceReport.ts';
import { ConsentgateError } from '../errors.ts';
import { UsageError } from './errors.ts';

/** `consentgate evidence`: one customer's bundle as JSON on stdout, and as an HTML report with --html. */
export async function evidenceCommand(o: { customerId?: string; email?: string; phone?: string; html?: string }, cfg: Config): Promise<void> {
  const given = [o.customerId !== undefined, o.email !== undefined, o.phone !== undefined].filter(Boolean).length;
  if (given !== 1) throw new UsageError('name the customer by exactly one of <customerId>, --email, --phone');
  const subject: Subject = o.customerId !== undefined ? { customerId: o.customerId } : o.email !== undefined ? { email: o.email } : { phone: o.phone! };
  const store = openEvidenceStore(cfg);
  try {
    await store.apply();
    const r = await evidenceBundle(store, { subject, vendors: loadDefinitions(cfg).vendors, pseudonym: identifierPseudonym(cfg), now: Date.now() });
    if (!r.ok) {
      if (r.status === 400) throw new UsageError(`${'email' in subject ? '--email' : '--phone'}: ${r.message}`);
      throw new ConsentgateError('NOT_FOUND', r.message);
    }
    if (o.html) {
      writeFileSync(o.html, renderEvidenceHtml(r.bundle));
      console.error(`evidence report of customer ${r.bundle.customerId} written to ${o.html} (${r.bundle.timeline.length} events on its timeline)`);
    }
    console.log(JSON.stringify(r.bundle, null, 2));
  } finally {
    await store.db.close();
  }
}
