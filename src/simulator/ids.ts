import { createHash } from 'node:crypto';

/** mulberry32: a tiny seeded PRNG in [0, 1); the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function formatUuid(bytes: Uint8Array): string {
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A v4-formatted UUID drawn from `rand`, so ids are reproducible from a seed. */
export function seededUuid(rand: () => number): string {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Math.floor(rand() * 256);
  return formatUuid(bytes);
}

/** A UUID derived from a name: stable ids for the parts of an entity (e.g. a conversation's participants). */
export function namedUuid(name: string): string {
  return formatUuid(new Uint8Array(createHash('sha256').update(name).digest().subarray(0, 16)));
}

/** An alphanumeric string drawn from `rand` (client secrets and similar). */
export function seededToken(rand: () => number, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rand() * alphabet.length)];
  return out;
}

/** Epoch ms → ISO-8601 with milliseconds, the format Genesys uses for dates. */
export const iso = (ms: number): string => new Date(ms).toISOString();
