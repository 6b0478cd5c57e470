// kafkajs' murmur2 (see index.ts).

const M = 0x5bd1e995;

/**
 * Kafka's murmur2 of a record key, as the Java client computes it (32-bit arithmetic). kafkajs computes it on its
 * BigInt-backed Long without wrapping to 64 bits, so the hash state grows by ~32 bits a step and hashing is quadratic
 * in the key's length (a 250 KB key: ~2 minutes on the event loop). Only the low 32 bits ever reach the result, so
 * this gives the same partition in linear time.
 */
export function murmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3; // the last 1–3 bytes
  if (rest > 0) {
    if (rest === 3) h ^= data[end + 2]! << 16;
    if (rest >= 2) h ^= data[end + 1]! << 8;
    h ^= data[end]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}
