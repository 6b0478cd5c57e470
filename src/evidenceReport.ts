// The evidence bundle as a readable, self-contained HTML report (no scripts, prints on A4): what a privacy lead
// hands a regulator or the customer. Everything in it comes from the bundle (ids, reasons, versions, pseudonyms).
import type { EvidenceBundle, SlaStatus } from './domain/evidence.ts';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
const table = (head: string[], rows: unknown[][], empty: string) =>
  rows.length
    ? `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`
    : `<p class="none">${esc(empty)}</p>`;
const badge = (text: string, tone: 'ok' | 'warn' | 'bad' | 'info') => `<span class="badge ${tone}">${esc(text)}</span>`;
const SLA_TONE: Record<SlaStatus, 'ok' | 'warn' | 'bad' | 'info'> = { MET: 'ok', LATE: 'warn', OVERDUE: 'bad', OPEN: 'info', DENIED: 'bad' };
/** Decisions listed in the report; the JSON bundle carries up to its own limit. */
const REPORT_DECISIONS = 500;

export function renderEvidenceHtml(b: EvidenceBundle): string {
  const state = b.currentConsent;
  const grants = state ? state.purposes.map((p) => `${esc(p.purpose)}: ${p.granted === null ? 'never stated' : p.granted ? 'granted' : 'withdrawn'}${p.channels.length ? ` (${p.channels.map((c) => `${esc(c.channel)} ${c.granted ? 'granted' : 'withdrawn'}`).join(', ')})` : ''}`).join('<br>') : 'no consent recorded';
  const sections = [
    ['Summary', `<dl>
      <dt>Customer</dt><dd><code>${esc(b.customerId)}</code></dd>
      <dt>Consent now</dt><dd>${state ? `${badge(state.complianceStatus, state.complianceStatus === 'FULLY_OPTED_OUT' ? 'bad' : state.complianceStatus === 'FULLY_OPTED_IN' ? 'ok' : 'warn')} version ${state.version}<br>${grants}` : grants}</dd>
      <dt>Data forwarded to</dt><dd>${b.forwardedTo.length ? b.forwardedTo.map((f) => `${esc(f.sink)}: ${f.records} record(s), ${time(f.first)} – ${time(f.last)}`).join('<br>') : 'no sink'}</dd>
      <dt>Purges</dt><dd>${b.purges.length ? b.purges.map((p) => `${esc(p.vendor)} (${esc(p.reason.toLowerCase())}) ${badge(p.sla, SLA_TONE[p.sla])}`).join(' · ') : 'none'}</dd>
      <dt>Erasure</dt><dd>${b.erasures.length ? b.erasures.map((e) => `${time(e.requestedAt)}: ${e.keysDestroyed} data key(s) destroyed`).join('<br>') : 'not requested'}</dd>
    </dl>`],
    ['Timeline', table(['When', 'What', 'Detail'], b.timeline.map((t) => [time(t.at), badge(t.kind.replace('_', ' ').toLowerCase(), t.kind === 'ERASURE' || t.kind === 'SESSION_ENDED' ? 'warn' : 'info'), esc(t.text)]), 'nothing recorded')],
    ['Identifiers and how they link', table(['Kind', 'Pseudonym', 'Link', 'Why'],
      b.identifiers.map((i) => [esc(i.kind) + (i.asked ? ' ' + badge('asked about', 'info') : ''), `<code>${esc(i.pseudonym)}</code>`, badge(i.link, i.link === 'NONE' ? 'bad' : i.link === 'WEAK' ? 'warn' : 'ok'), esc(i.why)]),
      'no identifier recorded (the customer id is the Genesys external contact id, a certain link)')],
    ['Consent statements', table(['Received', 'Captured', 'Source', 'Statement', 'Given by', 'State after'],
      b.consent.map((c) => [time(c.receivedAt), time(c.capturedAt), esc(c.source), esc(c.purposes.map((p) => `${p.granted ? '+' : '−'}${p.purpose}${p.channel ? `/${p.channel}` : ''}`).join(' ')),
        c.resolvedBy ? `${esc(c.resolvedBy.identifier)} (${esc(c.resolvedBy.link)})` : 'customer id', c.stateAfter ? `v${c.stateAfter.version} ${esc(c.stateAfter.complianceStatus)}` : 'no change']), 'no consent statement')],
    [`Decisions (${b.decisionsTotal}${b.decisionsTotal > Math.min(b.decisions.length, REPORT_DECISIONS) ? `, the latest ${Math.min(b.decisions.length, REPORT_DECISIONS)} listed` : ''})`, table(['Decided', 'Record', 'Sink', 'Outcome', 'Reason', 'Policy', 'Consent v.'],
      b.decisions.slice(0, REPORT_DECISIONS).map((d) => [time(d.decidedAt), `<code>${esc(d.recordId)}</code>`, esc(d.sink), badge(d.outcome, d.outcome === 'FORWARDED' ? 'ok' : 'info'), esc(d.reason + (d.deniedPurposes.length ? ` (${d.deniedPurposes.join(', ')})` : '')), esc(d.policyVersion), esc(d.consentVersion ?? '—')]), 'no decision')],
    ['Purge requests to vendors', table(['Vendor', 'Reason', 'Requested', 'Due', 'Attempts', 'Answers', 'SLA'],
      b.purges.map((p) => [esc(p.vendor), esc(p.reason + (p.purposes.length ? `: ${p.purposes.join(', ')}` : '')), time(p.issuedAt), time(p.dueAt), String(p.attempts),
        p.acks.map((a) => `${esc(a.status)} ${time(a.at)}${a.reason ? ` — ${esc(a.reason)}` : ''}`).join('<br>') || '—', badge(p.sla, SLA_TONE[p.sla])]), 'no purge request')],
    ['Live sessions ended', table(['Ordered', 'Conversation', 'Why', 'Outcome'], b.sessions.map((s) => [time(s.issuedAt), `<code>${esc(s.conversationId)}</code>`, esc(s.reason), esc(s.outcome ? `${s.outcome} ${time(s.outcomeAt)}` : 'pending')]), 'none')],
    ['Erasure and key destruction', table(['Requested', 'Source', 'Data keys destroyed', 'Genesys GDPR request'], b.erasures.map((e) => [time(e.requestedAt), esc(e.source), String(e.keysDestroyed), esc(e.genesysGdprRequestId ?? '—')]), 'no erasure requested')],
    ['DPIAs of the integrations that received the data', table(['Integration', 'DPIA', 'Status', 'Risk', 'Destinations', 'Vendors'],
      b.dpias.map((d) => [esc(d.integrationName ?? d.integrationId), `<code>${esc(d.dpiaId ?? '—')}</code>`, badge(d.complianceStatus, d.complianceStatus === 'APPROVED_FOR_DEPLOYMENT' ? 'ok' : d.complianceStatus === 'BLOCKED_FOR_DEPLOYMENT' ? 'bad' : 'warn'), esc(d.overallRisk ?? '—'), esc(d.destinations.join(', ')), esc(d.vendors.join(', '))]),
      'no assessed integration received this customer\'s data')],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence bundle — ${esc(b.customerId)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2733;padding:0 1rem}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #d5dbe2;padding-bottom:.25rem}
.meta{color:#5a6776;margin:.25rem 0 1rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef1f4;vertical-align:top}
th{font-weight:600;color:#3b4a5a;background:#f6f8fa}code{font-size:12px}dl{display:grid;grid-template-columns:10rem 1fr;gap:.4rem 1rem}dt{font-weight:600}dd{margin:0}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:12px;font-weight:600}.ok{background:#dff3e4;color:#1a6b34}.warn{background:#fff1d6;color:#8a5a00}
.bad{background:#fde0e0;color:#a11d1d}.info{background:#e4edf9;color:#23508e}.none{color:#5a6776;font-style:italic}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
</style></head><body>
<h1>Evidence bundle</h1>
<p class="meta">Customer <code>${esc(b.customerId)}</code> · generated ${time(b.generatedAt)} by consentgate · what was done with this person's data, and why. Identifiers appear as the pipeline's pseudonyms; no personal data is stored for this report.</p>
${sections.map(([title, body]) => `<section><h2>${esc(title)}</h2>${body}</section>`).join('\n')}
</body></html>`;
}
