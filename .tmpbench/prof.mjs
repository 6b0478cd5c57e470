import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
const self = new Map(); let total = 0;
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  for (const [id, t] of dt) {
    const n = byId.get(id); const cf = n.callFrame;
    const url = cf.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '');
    const k = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber}`;
    self.set(k, (self.get(k) ?? 0) + t); total += t;
  }
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
const busy = total - idle;
console.log('busy ms', (busy / 1000).toFixed(0));
for (const [k, v] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 35)) console.log((100 * v / busy).toFixed(1).padStart(5) + '%', k);
