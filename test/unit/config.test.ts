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
    { name: 'a negative commit interval', env: { ...ok, CONSENTGATE_COMMIT_INTERVAL_MS: '-1' }, problems: [/^commitIntervalMs:/] },
    { name: 'bad log level', env: { ...ok, LOG_LEVEL: 'loud' }, problems: [/logLevel/] },
    { name: 'an unreadable CA file is named with its setting', env: { ...ok, KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem', SCHEMA_REGISTRY_CA_FILE: '/nonexistent/r.pem' }, problems: [/^kafka\.sslCaFile: cannot read \/nonexistent\/ca\.pem \(KAFKA_SSL_CA_FILE\)$/, /^schemaRegistry\.caFile: cannot read \/nonexistent\/r\.pem \(SCHEMA_REGISTRY_CA_FILE\)$/] },
    { name: 'KAFKA_SSL=false beside a CA file is a contradiction', env: { ...ok, KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: import.meta.filename }, problems: [/^kafka\.ssl: KAFKA_SSL=false, yet a TLS file/] },
    { name: 'a client certificate without its key', env: { ...ok, KAFKA_SSL_CERT_FILE: import.meta.filename }, problems: [/^kafka\.sslCertFile: a client certificate needs its key/] },
    { name: 'an unknown SASL mechanism', env: { ...ok, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, problems: [/^kafka\.sasl\.mechanism:/] },
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

  it('a CA file turns TLS on and reaches the clients\' TLS options', async () => {
    const { kafkaConnection } = await import('../../src/adapters/kafka.ts');
    const r = loadConfig({ env: { ...ok, KAFKA_SSL_CA_FILE: import.meta.filename, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' } });
    assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
    if (!r.ok) return;
    assert.equal(r.config.kafka.ssl, true);
    const c = kafkaConnection(r.config.kafka);
    assert.ok(Buffer.isBuffer((c.ssl as { ca: Buffer }).ca), 'the CA file is read into the TLS options');
    assert.deepEqual(c.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    const plain = loadConfig({ env: ok });
    assert.equal(plain.ok && kafkaConnection(plain.config.kafka).ssl, false);
  });

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
