import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/app.ts';
import { freePort } from '../../src/devstack/process.ts';
import { sendTraffic, startRun } from '../harness/runProcess.ts';
import { waitFor } from '../harness/pipeline.ts';

// Prometheus and Grafana as code: a real Prometheus (Debian's package) scrapes a running pipeline with
// ops/prometheus.yml, and every PromQL expression of every panel of the provisioned Grafana dashboard must parse
// and return series through Prometheus' HTTP API.
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

const dashboard = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'ops/grafana/dashboards/consentgate.json'), 'utf8')) as {
  uid: string; panels: { title: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[];
};

it('the provisioned dashboard names the provisioned data source', () => {
  const datasources = readFileSync(resolve(PROJECT_ROOT, 'ops/grafana/provisioning/datasources/prometheus.yml'), 'utf8');
  const uid = /uid: (\S+)/.exec(datasources)![1];
  for (const p of dashboard.panels) {
    assert.equal(p.datasource.uid, uid, p.title);
    for (const t of p.targets) assert.equal(t.datasource.uid, uid, p.title);
  }
});

it('every panel query of the dashboard returns series from a Prometheus scraping a running pipeline', async () => {
  let prometheus: string;
  try {
    prometheus = execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no prometheus binary: .ci/run installs Debian\'s prometheus package (apt-get install prometheus)');
  }
  // The pipeline with two workers (worker metrics), traffic that decides, withdraws (opt-out, purge) and dead-letters.
  const run = await startRun({ workers: 2 });
  cleanups.push(() => run.stop());
  await sendTraffic(run.prefix);

  const dir = mkdtempSync(join(tmpdir(), 'consentgate-prometheus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const shipped = readFileSync(resolve(PROJECT_ROOT, 'ops/prometheus.yml'), 'utf8');
  const config = shipped.replace("targets: ['consentgate:9465']", `targets: ['127.0.0.1:${run.opsPort}']`).replace(/scrape_interval: 15s/, 'scrape_interval: 1s');
  assert.notEqual(config, shipped, 'ops/prometheus.yml has the target and interval this test rewrites');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child = spawn(prometheus, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-5000)));
  cleanups.push(() => void child.kill('SIGKILL'));
  const query = async (expr: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  };
  await waitFor('ten scrapes', async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    const r = await query('count_over_time(up{job="consentgate"}[1m])').catch(() => undefined);
    return r?.status === 'success' && Number((r.data!.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= 10;
  }, 60_000);

  const empty: string[] = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets) {
      const r = await query(t.expr);
      assert.equal(r.status, 'success', `${p.title}: ${t.expr}: ${r.error}`);
      if (r.data!.result.length === 0) empty.push(`${p.title}: ${t.expr}`);
    }
  }
  assert.deepEqual(empty, [], 'every panel expression returns series');
});
