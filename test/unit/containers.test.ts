import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

// No Docker engine runs here: the compose file and the Dockerfile are checked as files — against the README's
// promises and against consentgate's own configuration schema.
const read = (f: string) => readFileSync(resolve(PROJECT_ROOT, f), 'utf8');
type Service = { image?: string; build?: string; ports?: string[]; environment?: Record<string, string>; command?: string[]; volumes?: string[] };
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const readme = read('README.md');
const section = readme.slice(readme.indexOf('### Containers'), readme.indexOf('### Security'));

describe('containers', () => {
  it('the compose file has every service and host port the README lists', () => {
    const rows = [...section.matchAll(/^\| `([a-z]+)` \| ([\d, ]+) \|/gm)].map((m) => ({ service: m[1]!, ports: m[2]!.split(',').map((p) => p.trim()) }));
    assert.deepEqual(rows.map((r) => r.service).sort(), Object.keys(compose.services).sort(), 'the README table lists exactly the services');
    for (const r of rows) {
      const published = (compose.services[r.service]!.ports ?? []).map((p) => p.split(':')[0]);
      assert.deepEqual(published.sort(), r.ports.sort(), `${r.service}: the host ports the README says`);
    }
  });

  it('consentgate\'s service environment is a valid configuration, with the settings the README says it reads', () => {
    const env = compose.services.consentgate!.environment!;
    for (const v of ['CONSENTGATE_FIELD_KEY', 'CONSENTGATE_MASTER_KEY', 'CONSENTGATE_INTAKE_TOKEN', 'CONSENTGATE_ERASURE_TOKEN']) {
      assert.match(env[v] ?? '', new RegExp(`^\\$\\{${v}:\\?`), `${v} comes from the user's environment, required`);
      assert.ok(section.includes(`\`${v}\``), `the README names ${v}`);
    }
    // What compose would pass, with the user's values filled in: consentgate must accept it as it stands.
    const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v
      .replace(/\$\{CONSENTGATE_(FIELD|MASTER)_KEY:\?[^}]*\}/, 'ab'.repeat(32))
      .replace(/\$\{CONSENTGATE_\w+_TOKEN:\?[^}]*\}/, 'a-token-of-sixteen-chars')
      .replace(/\$\{\w+:-([^}]*)\}/, '$1')]));
    const r = loadConfig({ env: filled });
    assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
    assert.deepEqual(r.config.connectors, ['notifications', 'consent-intake', 'writeback', 'integrations', 'session-executor']);
    assert.equal(r.config.ops.host, '0.0.0.0', 'the operations port is reachable from Prometheus');
    assert.equal(r.config.kafka.brokers[0], 'kafka:19092');
  });

  it('Prometheus scrapes consentgate\'s operations port; Grafana gets the provisioned dashboard; the simulator is reachable by name', () => {
    assert.ok(compose.services.prometheus!.volumes!.includes('./ops/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
    assert.match(read('ops/prometheus.yml'), /targets: \['consentgate:9465'\]/);
    assert.ok(compose.services.grafana!.volumes!.some((v) => v.startsWith('./ops/grafana/dashboards:')));
    assert.equal(compose.services.consentgate!.environment!.GENESYS_BASE_URL, 'http://simulator:8089');
    assert.deepEqual(compose.services.simulator!.command!.slice(0, 6), ['simulate', 'genesys', '--host', '0.0.0.0', '--public-host', 'simulator']);
  });

  it('the Dockerfile is multi-stage on node:20-slim, installs production dependencies only and runs as a non-root user', () => {
    const docker = read('Dockerfile');
    assert.equal((docker.match(/^FROM node:20-slim/gm) ?? []).length, 2);
    assert.match(docker, /^RUN npm ci --omit=dev/m);
    assert.match(docker, /^USER node$/m);
    assert.match(docker, /^HEALTHCHECK /m);
    assert.match(docker, /^EXPOSE 9465 8088$/m);
  });
});
