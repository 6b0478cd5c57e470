import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';

const ok = { KAFKA_BROKERS: '127.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8080/apis/ccompat/v7' };

describe('config', () => {
  const cases: { name: string; env: Record<string, string>; problems?: RegExp[] }[] = [
    { name: 'minimal env is enough', env: ok },
    { name: 'nothing set lists both missing settings', env: {}, problems: [/^kafka\.brokers: required/, /^schemaRegistry\.url: required/] },
    { name: 'bad broker address', env: { ...ok, KAFKA_BROKERS: 'localhost' }, problems: [/kafka\.brokers\.0: expected host:port/] },
    { name: 'bad field key and wait', env: { ...ok, CONSENTGATE_FIELD_KEY: 'xyz', CONSENTGATE_CONSENT_WAIT_MS: '-5' }, problems: [/consentWaitMs/, /fieldKey/] },
    { name: 'bad log level', env: { ...ok, LOG_LEVEL: 'loud' }, problems: [/logLevel/] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = loadConfig({ env: c.env });
      if (!c.problems) {
        assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
        return;
      }
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.problems.length, c.problems.length, r.problems.join('; '));
      c.problems.forEach((p, i) => assert.match(r.problems[i]!, p));
    });
  }

  it('applies defaults', () => {
    const r = loadConfig({ env: ok });
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.config.consentWaitMs, 500);
    assert.equal(r.config.topicPrefix, '');
    assert.deepEqual(r.config.kafka.brokers, ['127.0.0.1:9092']);
  });

  it('names an unknown setting with the closest known one, and a URL that is not one as such, all at once', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'consentgate.json');
    writeFileSync(file, JSON.stringify({ kafak: { brokers: ['x:1'] }, schemaRegistry: { usrname: 'a' }, consentWaitMS: 5, somethingElse: 1 }));
    const r = loadConfig({ file, env: { SCHEMA_REGISTRY_URL: 'notaurl' } });
    assert.deepEqual(r.ok ? [] : r.problems, [
      'kafka.brokers: required: set KAFKA_BROKERS (host:port,…)',
      'schemaRegistry.url: not a URL: notaurl (set SCHEMA_REGISTRY_URL to one, e.g. http://127.0.0.1:8080/apis/ccompat/v7)',
      'schemaRegistry.usrname: unknown setting (did you mean schemaRegistry.username?)',
      'kafak: unknown setting (did you mean kafka?)',
      'consentWaitMS: unknown setting (did you mean consentWaitMs?)',
      'somethingElse: unknown setting',
    ]);
  });

  it('reports a missing config file', () => {
    const r = loadConfig({ file: '/nonexistent/consentgate.json', env: ok });
    assert.deepEqual(r, { ok: false, problems: ['config file /nonexistent/consentgate.json: not found'] });
  });
});
