/**
 * Metric series as the engine keeps them: a name and its labels in one string key, written as Prometheus writes a
 * series (`consentgate_decisions_total{outcome="BLOCKED",sink="crm"}`, labels sorted), so counters of several worker
 * processes add up by key, cross process boundaries as JSON and read plainly in a log line. Label values are names
 * of topics, sinks, outcomes, reasons and codes — never a customer's data.
 */
export type Labels = Record<string, string | number>;

export function series(name: string, labels?: Labels): string {
  if (!labels) return name;
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${k}="${escape(String(labels[k]))}"`).join(',')}}`;
}

/** The name and labels of a series key (the inverse of `series`). */
export function parseSeries(key: string): { name: string; labels: Record<string, string> } {
  const open = key.indexOf('{');
  if (open < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of key.slice(open + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = unescape(m[2]!);
  return { name: key.slice(0, open), labels };
}

/** Series keys grouped by name, each series with its labels (parsed back) and value. */
export function seriesByName(values: Record<string, number>): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const [key, value] of Object.entries(values)) {
    const { name, labels } = parseSeries(key);
    const list = out.get(name);
    if (list) list.push({ labels, value });
    else out.set(name, [{ labels, value }]);
  }
  return out;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
