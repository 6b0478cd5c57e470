// The live status page every `run` serves at GET / (with its data at GET /status.json): lag per partition,
// decisions per sink and reason over the last minutes, purge SLA, session guard outcomes, DPIA results, dead
// letters. Built from the same snapshot as GET /metrics, so the two always agree; no customer data (only labels).
import type { EngineMetrics } from './runtime/engine.ts';
import { seriesByName } from './runtime/metrics.ts';

export interface StatusModel {
  at: string;
  group: string;
  ready: boolean;
  detail: string;
  lag: { topic: string; partition: number; lag: number; seconds: number; cause: string }[];
  decisions: { sink: string; outcome: string; reason: string; count: number }[];
  /** Decisions per second by outcome:reason in each interval of the last minutes (oldest first). */
  history: { intervalMs: number; at: number[]; series: { key: string; perSecond: number[] }[] };
  purge: { vendor: string; outstanding: number; overdue: number }[];
  escalations: number;
  sessions: { outcome: string; count: number }[];
  dpia: { result: string; count: number }[];
  /** DPIA artifacts by compliance status. */
  dpiaArtifacts: { status: string; count: number }[];
  deadLetters: { topic: string; code: string; count: number }[];
  recordsIn: number;
}

/**
 * Decision counters sampled every `intervalMs` for the last `keep` intervals: what the chart plots (per-interval
 * rates by outcome and reason, summed over sinks).
 */
export class DecisionHistory {
  private readonly samples: { at: number; byReason: Map<string, number> }[] = [];
  constructor(readonly intervalMs = 5000, private readonly keep = 120) {}

  sample(counters: Record<string, number>, at: number): void {
    const byReason = new Map<string, number>();
    for (const s of seriesByName(counters).get('consentgate_decisions_total') ?? []) {
      const key = `${s.labels.outcome}:${s.labels.reason}`;
      byReason.set(key, (byReason.get(key) ?? 0) + s.value);
    }
    this.samples.push({ at, byReason });
    if (this.samples.length > this.keep + 1) this.samples.shift();
  }

  view(): StatusModel['history'] {
    const keys = [...new Set(this.samples.flatMap((s) => [...s.byReason.keys()]))].sort();
    const pairs = this.samples.slice(1).map((s, i) => [this.samples[i]!, s] as const);
    return {
      intervalMs: this.intervalMs,
      at: pairs.map(([, b]) => b.at),
      series: keys.map((key) => ({
        key,
        // A worker restarted resets its counters: a drop is not a negative rate.
        perSecond: pairs.map(([a, b]) => Math.max(0, (b.byReason.get(key) ?? 0) - (a.byReason.get(key) ?? 0)) / ((b.at - a.at) / 1000)),
      })),
    };
  }
}

export function statusModel(o: {
  metrics: EngineMetrics; counters: Record<string, number>; gauges: Record<string, number>;
  group: string; ready: boolean; detail: string; history: DecisionHistory; now: number;
}): StatusModel {
  const counters = seriesByName({ ...o.metrics.counters, ...o.counters });
  const gauges = seriesByName({ ...o.metrics.gauges, ...o.gauges });
  const of = (m: typeof counters, name: string) => m.get(name) ?? [];
  const label = (labels: Record<string, string>, k: string) => labels[k] ?? '';
  const at = (labels: Record<string, string>) => `${labels.topic}:${labels.partition}`;
  const lagSeconds = new Map(of(gauges, 'kafka_consumergroup_group_lag_seconds').map((s) => [at(s.labels), s.value]));
  // What a partition waits on: the cause with the largest time lag, if any is above 0.
  const waitingOn = new Map<string, { cause: string; value: number }>();
  for (const s of of(gauges, 'consentgate_lag_seconds')) {
    const w = waitingOn.get(at(s.labels));
    if (s.value > 0 && (!w || s.value > w.value)) waitingOn.set(at(s.labels), { cause: s.labels.cause!, value: s.value });
  }
  const lag = of(gauges, 'kafka_consumergroup_group_lag').map((s) => ({
    topic: label(s.labels, 'topic'), partition: Number(s.labels.partition), lag: s.value,
    seconds: lagSeconds.get(at(s.labels)) ?? 0, cause: waitingOn.get(at(s.labels))?.cause ?? '-',
  })).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const purge = new Map<string, { vendor: string; outstanding: number; overdue: number }>();
  for (const [name, field] of [['consentgate_purge_outstanding', 'outstanding'], ['consentgate_purge_overdue', 'overdue']] as const) {
    for (const s of of(gauges, name)) {
      const v = purge.get(s.labels.vendor!) ?? { vendor: s.labels.vendor!, outstanding: 0, overdue: 0 };
      v[field] += s.value;
      purge.set(v.vendor, v);
    }
  }
  const total = (name: string) => of(counters, name).reduce((n, s) => n + s.value, 0);
  return {
    at: new Date(o.now).toISOString(),
    group: o.group, ready: o.ready, detail: o.detail,
    lag,
    decisions: of(counters, 'consentgate_decisions_total')
      .map((s) => ({ sink: label(s.labels, 'sink'), outcome: label(s.labels, 'outcome'), reason: label(s.labels, 'reason'), count: s.value }))
      .sort((a, b) => a.sink.localeCompare(b.sink) || a.outcome.localeCompare(b.outcome) || a.reason.localeCompare(b.reason)),
    history: o.history.view(),
    purge: [...purge.values()].sort((a, b) => a.vendor.localeCompare(b.vendor)),
    escalations: total('consentgate_purge_escalations_total'),
    sessions: of(counters, 'consentgate_session_outcomes_total').map((s) => ({ outcome: label(s.labels, 'outcome'), count: s.value })),
    dpia: of(counters, 'consentgate_dpia_assessments_total').map((s) => ({ result: label(s.labels, 'result'), count: s.value })),
    dpiaArtifacts: of(gauges, 'consentgate_dpia_artifacts').map((s) => ({ status: label(s.labels, 'status'), count: s.value })),
    deadLetters: of(counters, 'consentgate_dead_letters_total').map((s) => ({ topic: label(s.labels, 'topic'), code: label(s.labels, 'code'), count: s.value })),
    recordsIn: total('consentgate_records_in_total'),
  };
}

/** The page: static HTML that fetches /status.json every 2 s and draws it (a table per section, an SVG chart). */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>consentgate status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 0 0 .5rem; }
  .sub { color: #5b6475; margin-bottom: 1rem; } .ok { color: #137333; } .bad { color: #b3261e; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1rem; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: .8rem 1rem; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  table { border-collapse: collapse; width: 100%; } td, th { padding: .15rem .5rem; text-align: left; border-bottom: 1px solid #eef0f3; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; } .empty { color: #8a93a3; }
  .legend span { display: inline-block; margin-right: .8rem; } .legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
</style></head>
<body>
<h1>consentgate</h1><div class="sub" id="state">loading…</div>
<div class="grid">
  <section><h2>Decisions per second by outcome and reason (last minutes)</h2><svg id="chart" width="100%" height="180" role="img" aria-label="decisions per second"></svg><div class="legend" id="legend"></div></section>
  <section><h2>Decisions by sink</h2><table id="decisions"></table></section>
  <section class="wide"><h2>Lag per partition (records behind · age of the oldest)</h2><table id="lag"></table></section>
  <section><h2>Purge SLA</h2><table id="purge"></table></section>
  <section><h2>Session guard</h2><table id="sessions"></table></section>
  <section><h2>DPIA</h2><table id="dpia"></table></section>
  <section><h2>Dead letters</h2><table id="dlq"></table></section>
</div>
<script>
const COLORS = ['#1a73e8', '#d93025', '#188038', '#f9ab00', '#9334e6', '#e8710a', '#12b5cb', '#5f6368'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function table(id, head, rows, numeric) {
  const th = head.map((h, i) => '<th' + (numeric.includes(i) ? ' class="n"' : '') + '>' + esc(h) + '</th>').join('');
  const body = rows.length ? rows.map((r) => '<tr>' + r.map((c, i) => '<td' + (numeric.includes(i) ? ' class="n"' : '') + '>' + esc(c) + '</td>').join('') + '</tr>').join('')
    : '<tr><td class="empty" colspan="' + head.length + '">none</td></tr>';
  document.getElementById(id).innerHTML = '<thead><tr>' + th + '</tr></thead><tbody>' + body + '</tbody>';
}
const ago = (ms) => ms < 60000 ? Math.round(ms / 1000) + ' s ago' : Math.round(ms / 60000) + ' min ago';
function chart(h) {
  const svg = document.getElementById('chart'), w = svg.clientWidth || 600, H = 180, pad = 28;
  const n = h.at.length, totals = h.at.map((_, i) => h.series.reduce((a, s) => a + s.perSecond[i], 0));
  const max = Math.max(1, ...totals), bw = n ? (w - pad) / n : 0;
  let out = '<text x="0" y="12" font-size="11" fill="#5b6475">' + max.toFixed(0) + '/s</text><line x1="' + pad + '" y1="' + (H - 16) + '" x2="' + w + '" y2="' + (H - 16) + '" stroke="#ccd"/>';
  for (let i = 0; i < n; i++) {
    let y = H - 16;
    h.series.forEach((s, k) => {
      const hgt = (s.perSecond[i] / max) * (H - 36);
      y -= hgt;
      if (hgt > 0) out += '<rect x="' + (pad + i * bw) + '" y="' + y + '" width="' + Math.max(1, bw - 1) + '" height="' + hgt + '" fill="' + COLORS[k % COLORS.length] + '"/>';
    });
  }
  out += '<text x="' + pad + '" y="' + (H - 2) + '" font-size="11" fill="#5b6475">' + (n ? ago(n * h.intervalMs) : 'collecting…') + '</text><text x="' + (w - 30) + '" y="' + (H - 2) + '" font-size="11" fill="#5b6475">now</text>';
  svg.innerHTML = out;
  document.getElementById('legend').innerHTML = h.series.map((s, k) => '<span><i style="background:' + COLORS[k % COLORS.length] + '"></i>' + esc(s.key) + '</span>').join('');
}
async function refresh() {
  try {
    const s = await (await fetch('status.json', { cache: 'no-store' })).json();
    const st = document.getElementById('state');
    st.innerHTML = 'group <b>' + esc(s.group) + '</b> · <span class="' + (s.ready ? 'ok">ready' : 'bad">not ready') + '</span> · ' + esc(s.detail) + ' · ' + s.recordsIn + ' records in · updated <span id="at">' + esc(s.at) + '</span>';
    st.dataset.at = s.at;
    chart(s.history);
    table('decisions', ['sink', 'outcome', 'reason', 'decisions'], s.decisions.map((d) => [d.sink, d.outcome, d.reason, d.count]), [3]);
    // One row per topic, one column per partition: "0", or the records behind and the oldest one's age.
    const parts = [...new Set(s.lag.map((l) => l.partition))].sort((a, b) => a - b);
    const topics = [...new Set(s.lag.map((l) => l.topic))];
    table('lag', ['topic'].concat(parts.map((p) => 'p' + p), ['waiting on']), topics.map((t) => {
      const ls = s.lag.filter((l) => l.topic === t);
      const cell = (p) => { const l = ls.find((x) => x.partition === p); return !l ? '' : l.lag === 0 ? '0' : l.lag + ' · ' + l.seconds.toFixed(1) + ' s'; };
      const causes = [...new Set(ls.filter((l) => l.cause !== '-').map((l) => l.cause))];
      return [t].concat(parts.map(cell), [causes.join(', ') || '-']);
    }), parts.map((_, i) => i + 1));
    table('purge', ['vendor', 'outstanding', 'overdue'], s.purge.map((p) => [p.vendor, p.outstanding, p.overdue]).concat([['escalated (total)', s.escalations, '']]), [1, 2]);
    table('sessions', ['outcome', 'count'], s.sessions.map((x) => [x.outcome, x.count]), [1]);
    table('dpia', ['artifacts by status · assessments', 'count'], s.dpiaArtifacts.map((x) => [x.status, x.count]).concat(s.dpia.map((x) => ['assessments: ' + x.result, x.count])), [1]);
    table('dlq', ['topic', 'code', 'count'], s.deadLetters.map((x) => [x.topic, x.code, x.count]), [2]);
  } catch (e) {
    document.getElementById('state').textContent = 'cannot reach the pipeline: ' + e.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
`;
