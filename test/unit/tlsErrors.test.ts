import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setupProblem } from '../../src/adapters/preflight.ts';
import { certificateProblem } from '../../src/adapters/tls.ts';
import type { Config } from '../../src/config.ts';

// The errors as kafkajs and undici raise them (a Node TLS error wrapped once or twice), classified without I/O.
const nodeTls = (code: string, message: string) => Object.assign(new Error(message), { code });
const kafkajsConnection = (cause: Error & { code?: string }) => Object.assign(new Error(`Connection error: ${cause.message}`), { name: 'KafkaJSConnectionError', code: cause.code });
const cfg = { brokers: ['127.0.0.1:9093'], ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'x' } } as Config['kafka'];

describe('TLS and SASL failures at start', () => {
  it('an untrusted certificate is said as such, through any wrapping', () => {
    const leaf = nodeTls('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate');
    assert.equal(certificateProblem(kafkajsConnection(leaf)), 'its certificate is not signed by a CA this client trusts (unable to verify the first certificate)');
    assert.match(certificateProblem(new TypeError('fetch failed', { cause: nodeTls('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain') }))!, /not signed by a CA this client trusts \(self-signed certificate in certificate chain\)/);
    assert.match(certificateProblem(nodeTls('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"))!, /not for that host name/);
    assert.match(certificateProblem(nodeTls('CERT_HAS_EXPIRED', 'certificate has expired'))!, /not valid now/);
    assert.equal(certificateProblem(nodeTls('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9093')), undefined);
    assert.equal(certificateProblem(undefined), undefined);
  });

  it('Kafka: refused credentials and untrusted brokers are configuration errors naming the settings; an unreachable broker is not', () => {
    const sasl = setupProblem(cfg, Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), { name: 'KafkaJSSASLAuthenticationError' }));
    assert.equal(sasl?.code, 'CONFIG_INVALID');
    assert.match(sasl!.message, /^Kafka at 127\.0\.0\.1:9093 \(KAFKA_BROKERS\) refused the SASL credentials of user "svc" \(scram-sha-512\): .* — check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD$/);
    const tls = setupProblem(cfg, kafkajsConnection(nodeTls('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')));
    assert.equal(tls?.code, 'CONFIG_INVALID');
    assert.match(tls!.message, /not signed by a CA this client trusts .* set KAFKA_SSL_CA_FILE/);
    assert.equal(setupProblem(cfg, kafkajsConnection(nodeTls('ECONNREFUSED', 'connect ECONNREFUSED'))), undefined);
  });
});
