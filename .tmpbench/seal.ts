import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { sealAesGcm } from '../src/adapters/aesGcm.ts';
const key = randomBytes(32);
const ko = createSecretKey(key);
const aad = Buffer.from('cust-123/MARKETING/abcdefghijkl');
const pt = 'tel:+15555550123';
const N = 200_000;
function time(name: string, f: () => unknown) {
  for (let i = 0; i < 20000; i++) f();
  const t = performance.now();
  for (let i = 0; i < N; i++) f();
  console.log(name, ((performance.now() - t) * 1000 / N).toFixed(2), 'µs');
}
time('seal Buffer key + b64', () => sealAesGcm(key, pt, aad).toString('base64url'));
time('seal KeyObject + b64', () => sealAesGcm(ko, pt, aad).toString('base64url'));
const iv = randomBytes(12);
time('createCipheriv only (Buffer)', () => createCipheriv('aes-256-gcm', key, iv));
time('createCipheriv only (KeyObject)', () => createCipheriv('aes-256-gcm', ko, iv));
time('cipher full (KeyObject)', () => { const c = createCipheriv('aes-256-gcm', ko, iv); c.setAAD(aad); const b = c.update(pt, 'utf8'); c.final(); return c.getAuthTag(); });
