import { SHRED_REF_PREFIX } from '../domain/fieldRules.ts';
import { openAesGcm, SEAL_OVERHEAD, sealAesGcm } from './aesGcm.ts';
import type { DataKey, KeyStore } from './keyStore.ts';

/**
 * Crypto-shredded fields: personal values encrypted under their customer's data key, readable exactly as long as
 * the key store still holds that key. AES-256-GCM with a 12-byte random IV and AAD = key id (a ciphertext cannot be
 * moved under another key id). base64url has no ':', so the last ':' ends the key id, whatever the key id holds.
 * - `shr:v2:<keyId>:<base64url(iv ‖ tag ‖ ciphertext)>` in a sink record's `shredded` field: the JSON array of the
 *   record's shredded values, sealed once; each shredded field holds `shr:v2#<n>`, its index in that array. What
 *   the pipeline writes.
 * - `shr:v1:<keyId>:<base64url(iv ‖ tag ‖ ciphertext)>` in the field itself, one seal per field: what it wrote before
 *   (a seal costs ~5.6 µs, most of it per call); still read.
 */
export const SHRED_PREFIX = 'shr:v2:';
const SHRED_V1_PREFIX = 'shr:v1:';

/** Per data key (the key store hands out the same object while it caches the key): its AAD and format prefix. */
const bound = new WeakMap<DataKey, { aad: Buffer; prefix: string }>();

/** Seals a record's shredded values (in the order of their references) under `k`: its `shredded` field. */
export function shredSeal(k: DataKey, values: string[]): string {
  let b = bound.get(k);
  if (!b) bound.set(k, (b = { aad: Buffer.from(k.keyId, 'utf8'), prefix: `${SHRED_PREFIX}${k.keyId}:` }));
  return b.prefix + sealAesGcm(k.key, JSON.stringify(values), b.aad).toString('base64url');
}

/** A shredded field: a reference into its record's sealed values, or a value sealed on its own (v1). */
export function isShredded(v: unknown): v is string {
  return typeof v === 'string' && (v.startsWith(SHRED_REF_PREFIX) || v.startsWith(SHRED_V1_PREFIX));
}

type Failure = { ok: false; reason: 'KEY_DESTROYED' | 'KEY_UNKNOWN' | 'INVALID' };
export type Unshredded = { ok: true; value: string } | Failure;
export type Unsealed = { ok: true; values: string[] } | Failure;

type Lookup = (keyId: string) => Promise<Buffer | 'destroyed' | undefined>;

/**
 * Outcomes are values: KEY_DESTROYED (the customer was erased: the value is gone for good), KEY_UNKNOWN (no such
 * key in this store), INVALID (malformed, tampered, or not under that key). A failing lookup (database down) throws.
 */
async function open(value: string, prefix: string, lookup: Lookup): Promise<{ ok: true; plaintext: string } | Failure> {
  if (!value.startsWith(prefix)) return { ok: false, reason: 'INVALID' };
  const rest = value.slice(prefix.length);
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
    return { ok: true, plaintext: openAesGcm(key, bytes, Buffer.from(keyId, 'utf8')).toString('utf8') };
  } catch {
    return { ok: false, reason: 'INVALID' };
  }
}

/** The values a record's `shredded` field sealed (see `open` for the outcomes). */
export async function shredUnseal(shredded: string, lookup: Lookup): Promise<Unsealed> {
  const r = await open(shredded, SHRED_PREFIX, lookup);
  if (!r.ok) return r;
  let values: unknown;
  try {
    values = JSON.parse(r.plaintext);
  } catch {
    return { ok: false, reason: 'INVALID' };
  }
  return Array.isArray(values) && values.every((v) => typeof v === 'string') ? { ok: true, values } : { ok: false, reason: 'INVALID' };
}

/** The value of a field sealed on its own (v1; see `open` for the outcomes). */
export async function shredDecrypt(value: string, lookup: Lookup): Promise<Unshredded> {
  const r = await open(value, SHRED_V1_PREFIX, lookup);
  return r.ok ? { ok: true, value: r.plaintext } : r;
}

/**
 * Decrypts every shredded field of a sink record (participants[].name/address, ani, dnis, attribute values,
 * transcript), v2 references and v1 values alike; a field whose key is destroyed becomes null and the result says
 * erased: true. A field that cannot be decrypted for another reason (unknown key, tampered, a reference without its
 * value) keeps what it holds and counts as a failure. The `shredded` envelope becomes null once its values are in
 * their fields (or erased). Other fields are untouched; the input is not modified.
 */
export async function decryptSinkRecord<T extends object>(record: T, keys: Pick<KeyStore, 'keyById'>): Promise<{ record: T; erased: boolean; failures: number }> {
  // One lookup per distinct key id: a record's v1 fields usually share one or two keys.
  const lookups = new Map<string, ReturnType<Lookup>>();
  const lookup: Lookup = (keyId) => {
    let p = lookups.get(keyId);
    if (!p) lookups.set(keyId, (p = keys.keyById(keyId)));
    return p;
  };
  const src = record as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  const sealed = typeof src.shredded === 'string' ? await shredUnseal(src.shredded, lookup) : undefined;
  if (sealed?.ok || sealed?.reason === 'KEY_DESTROYED') out.shredded = null;
  let erased = false;
  let failures = 0;
  const fail = (v: unknown, reason: Failure['reason']) => {
    if (reason !== 'KEY_DESTROYED') {
      failures++;
      return v;
    }
    erased = true;
    return null;
  };
  const field = async (v: unknown): Promise<unknown> => {
    if (!isShredded(v)) return v;
    if (v.startsWith(SHRED_V1_PREFIX)) {
      const r = await shredDecrypt(v, lookup);
      return r.ok ? r.value : fail(v, r.reason);
    }
    if (!sealed) return fail(v, 'INVALID');
    if (!sealed.ok) return fail(v, sealed.reason);
    const index = v.slice(SHRED_REF_PREFIX.length);
    const value = /^\d{1,6}$/.test(index) ? sealed.values[Number(index)] : undefined;
    return value === undefined ? fail(v, 'INVALID') : value;
  };

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
