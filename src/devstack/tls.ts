import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A CA and a server certificate it signed for 127.0.0.1 and localhost, as PEM files. */
export interface Certificates {
  /** The CA certificate clients trust (KAFKA_SSL_CA_FILE, SCHEMA_REGISTRY_CA_FILE). */
  caFile: string;
  /** The server's certificate and its unencrypted PKCS#8 key. */
  certFile: string;
  keyFile: string;
  /** Key and certificate in one file: a Kafka keystore of type PEM. */
  keystoreFile: string;
}

/**
 * Generates a CA of its own (`name` in its subject) and a server certificate signed by it into `dir`, with the
 * openssl command-line tool (Node can verify certificates but not issue them). For local stacks and tests only:
 * the keys are written unencrypted, readable by the owner alone.
 */
export function makeCertificates(dir: string, name = 'consentgate dev CA'): Certificates {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (file: string) => join(dir, file);
  const openssl = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      throw new Error(e.code === 'ENOENT' ? 'the openssl command is needed to make the local stack\'s certificates (apt install openssl)' : `openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
    }
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '825', '-subj', `/CN=${name} ${randomBytes(4).toString('hex')}`);
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '825', '-extfile', f('server.ext'));
  writeFileSync(f('server-keystore.pem'), readFileSync(f('server.key'), 'utf8') + readFileSync(f('server.pem'), 'utf8'), { mode: 0o600 });
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key'), keystoreFile: f('server-keystore.pem') };
}
