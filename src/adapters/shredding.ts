import { openAesGcm, SEAL_OVERHEAD, sealAesGcm } from './aesGcm.ts';
import type { DataKey, KeyStore } from './keyStore.ts';

/**
 * Crypto-shredded fields: a personal value encrypted under its customer's data key, readable exactly as long as
 * the key store still holds that key. Format `shr:v1:<keyId>:<base64url(iv ‖ tag ‖ ciphertext)>`, AES-256-GCM with
 * a 12-byte random IV and AAD = key id (a ciphertext cannot be moved under another key id). base64url has no ':',
 * so the last ':' ends the key id, whatever the key id holds.
 */
export const SHRED_PREFIX = 'shr:v1:';


/** Per data key (the key store hands out the same object while it caches the key): its AAD and format prefix. */
const bound = new WeakMap<DataKey, { aad: Buffer; prefix: string }>();

export function shredEncrypt(k: DataKey, plaintext: string): string {
  let b = bound.get(k);
  if (!b) bound.set(k, (b = { aad: Buffer.from(k.keyId, 'utf8'), prefix: `${SHRED_PREFIX}${k.keyId}:` }));
  return b.prefix + sealAesGcm(k.key, plaintext, b.aad).toString('base64url');
}

export function isShredded(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith(SHRED_PREFIX);
}

export type Unshredded = { ok: true; value: string } | { ok: false; reason: 'KEY_DESTROYED' | 'KEY_UNKNOWN' | 'INVALID' };

type Lookup = (keyId: string) => Promise<Buffer | 'destroyed' | undefined>;

/**
 * Outcomes are values: KEY_DESTROYED (the customer was erased: the value is gone for good), KEY_UNKNOWN (no such
 * key in this store), INVALID (malformed, tampered, or not under that key). A failing lookup (database down) throws.
 */
export async function shredDecrypt(value: string, lookup: Lookup): Promise<Unshredded> {
  if (!isShredded(value)) return { ok: false, reason: 'INVALID' };
  const rest = value.slice(SHRED_PREFIX.length);
  const sep = rest.lastIndexOf(':');
  const keyId = rest.slice(0, sep);
  const encoded = rest.slice(sep + 1);
  if (sep <= 0 || !/^[A-Za-z0-9_-]+$/.test(encoded)) return { ok: false, reason: 'INVALID' };
  const bytes = Buffer.from(encoded, 'base64url');
  if (bytes.length < SEAL_OVERHEAD) return { ok: false, reason: 'INVALID' };
  const key = await lookup(keyId);
  if (key === 'destroyed') return { ok: false, reason: 'KEY_DESTROYED' };
  if (key === undefined) return { ok: false, reason: 'KEY_UNKNOWN' };
  try {
    return { ok: true, value: openAesGcm(key, bytes, Buffer.from(keyId, 'utf8')).toString('utf8') };
  } catch {
    return { ok: false, reason: 'INVALID' };
  }
}

/**
 * Decrypts every shredded string in a sink record (participants[].name/address, ani, dnis, attribute values,
 * transcript); a field whose key is destroyed becomes null and the result says erased: true. A field that cannot be
 * decrypted for another reason (unknown key, tampered) keeps its ciphertext and counts as a failure. Other fields
 * are untouched; the input is not modified.
 */
export async function decryptSinkRecord<T extends object>(record: T, keys: Pick<KeyStore, 'keyById'>): Promise<{ record: T; erased: boolean; failures: number }> {
  // One lookup per distinct key id: a record's fields usually share one or two keys.
  const lookups = new Map<string, ReturnType<Lookup>>();
  const lookup: Lookup = (keyId) => {
    let p = lookups.get(keyId);
    if (!p) lookups.set(keyId, (p = keys.keyById(keyId)));
    return p;
  };
  let erased = false;
  let failures = 0;
  const field = async (v: unknown): Promise<unknown> => {
    if (!isShredded(v)) return v;
    const r = await shredDecrypt(v, lookup);
    if (r.ok) return r.value;
    if (r.reason === 'KEY_DESTROYED') {
      erased = true;
      return null;
    }
    failures++;
    return v;
  };

  const src = record as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  for (const f of ['ani', 'dnis', 'transcript']) if (f in src) out[f] = await field(src[f]);
  if (Array.isArray(src.participants)) {
    out.participants = await Promise.all(
      src.participants.map(async (p: unknown) => {
        if (!p || typeof p !== 'object') return p;
        const q = { ...(p as Record<string, unknown>) };
        if ('name' in q) q.name = await field(q.name);
        if ('address' in q) q.address = await field(q.address);
        return q;
      }),
    );
  }
  if (src.attributes && typeof src.attributes === 'object' && !Array.isArray(src.attributes)) {
    const attributes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(src.attributes)) attributes[k] = await field(v);
    out.attributes = attributes;
  }
  return { record: out as T, erased, failures };
}
