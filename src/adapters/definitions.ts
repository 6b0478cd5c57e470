import { createHash } from 'node:crypto';

/** Fields that change without the definition changing (runtime state, links) or must never leave (secrets). */
const VOLATILE = new Set(['secret', 'selfUri', 'reportedState', 'firstUri', 'nextUri', 'previousUri', 'lastUri']);

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).filter((k) => !VOLATILE.has(k)).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The definition as stored in a change: canonical JSON without secrets, and its SHA-256. */
export function definitionOf(raw: unknown): { definition: string; hash: string } {
  const definition = JSON.stringify(canonical(raw));
  return { definition, hash: createHash('sha256').update(definition).digest('hex') };
}
