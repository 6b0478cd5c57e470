// TLS for the clients of Kafka and the schema registry: the CA bundle and client certificate from their PEM files,
// and what a failed handshake means in words a user can act on.
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { Agent, fetch, type Response } from 'undici';
import { errorChain } from '../errors.ts';

/** PEM files: the CA(s) to trust instead of the system's, and a client certificate and key for mutual TLS. */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Node's TLS options for the files (read now: a file replaced by a rotation is read by the next client). */
export function tlsOptions(f: TlsFiles): ConnectionOptions {
  return {
    ...(f.caFile ? { ca: readFileSync(f.caFile) } : {}),
    ...(f.certFile ? { cert: readFileSync(f.certFile) } : {}),
    ...(f.keyFile ? { key: readFileSync(f.keyFile) } : {}),
  };
}

/** An https.Agent trusting the CA file (for the schema-registry client's HTTP gateway), or undefined for the defaults. */
export function httpsAgent(f: TlsFiles): HttpsAgent | undefined {
  return f.caFile || f.certFile ? new HttpsAgent({ keepAlive: true, ...tlsOptions(f) }) : undefined;
}

/**
 * `fetch` that trusts the CA file when one is given: Node's built-in fetch takes no CA bundle, so the undici it is
 * made of is called directly with a dispatcher that does.
 */
export function fetchTrusting(f: TlsFiles): (url: string, init?: Parameters<typeof fetch>[1]) => Promise<Response> {
  if (!f.caFile && !f.certFile) return (url, init) => fetch(url, init);
  const key = `${f.caFile}|${f.certFile}|${f.keyFile}`;
  let dispatcher = dispatchers.get(key);
  if (!dispatcher) dispatchers.set(key, (dispatcher = new Agent({ connect: tlsOptions(f) })));
  return (url, init) => fetch(url, { ...init, dispatcher });
}
/** One connection pool per set of files (health probes fetch every few seconds). */
const dispatchers = new Map<string, Agent>();

/** OpenSSL's verification failures as Node reports them (`err.code`): the peer's certificate chain is not trusted. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG',
]);

/**
 * Why a TLS handshake failed, when it did (searching the error's causes), as a phrase: "its certificate is not
 * signed by a CA this client trusts (self-signed certificate in certificate chain)". Undefined for other errors.
 */
export function certificateProblem(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const why = e.message?.replace(/^Connection error: /, '') ?? e.code;
    if (e.code && UNTRUSTED.has(e.code)) return `its certificate is not signed by a CA this client trusts (${why})`;
    if (e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID') return `its certificate is not valid now (${why})`;
    if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate is not for that host name (${why})`;
    if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return `it does not speak TLS on that port (${why})`;
  }
  return undefined;
}
