import { readFileSync, statSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { definitionOf } from './definitions.ts';
import { parseJson } from '../runtime/topology.ts';
import { ClassificationSchema, DestinationsSchema, type Classification, type Destinations } from '../domain/classification.ts';
import type { AssessedIntegration } from '../domain/dpia.ts';
import { scanText, scanValue, summarize } from '../domain/piiScanner.ts';
import { destinationsIn, type FoundDestination } from './terraform.ts';

/** Reads and validates a JSON file; a bad file fails with every problem and exit code 2. */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>): T {
  try {
    return parseJson(schema, file);
  } catch (err) {
    throw Object.assign(err as Error, { exitCode: 2 });
  }
}

/** Any JSON document (the Genesys API's own JSON of an OAuth client or integration), its errors as readJsonFile's. */
export const readJson = (file: string): unknown => readJsonFile(file, z.unknown());

export const loadClassification = (file: string): Classification => readJsonFile(file, ClassificationSchema);
export const loadDestinations = (file: string): Destinations => readJsonFile(file, DestinationsSchema);

function strings(v: unknown, path: string, out: [string, string, string][], key = ''): void {
  if (typeof v === 'string') out.push([path, key, v]);
  else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${path}[${i}]`, out, key));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, `${path}.${k}`, out, k);
}

/**
 * A Genesys definition as the API returns it — GET /api/v2/oauth/clients/{id} (an OAuth client: its `scope` list) or
 * GET /api/v2/integrations/{id} with `config.current` (an integration: URLs in its configuration properties, and an
 * EventBridge integration's `awsAccountRegion`) — as the engine's input. Secrets are dropped before hashing.
 */
export function integrationFromGenesys(raw: unknown, source: string): AssessedIntegration {
  const d = raw as Record<string, unknown>;
  if (!d || typeof d !== 'object' || typeof d.id !== 'string' || typeof d.name !== 'string') {
    throw Object.assign(new Error(`${source}: not a Genesys OAuth client or integration (no id and name)`), { exitCode: 2 });
  }
  const isClient = Array.isArray(d.scope) || typeof d.authorizedGrantType === 'string';
  const found: FoundDestination[] = [];
  const all: [string, string, string][] = [];
  strings(isClient ? { registeredRedirectUri: d.registeredRedirectUri } : d.config ?? {}, '$', all);
  for (const [path, key, s] of all) {
    found.push(...destinationsIn(s, `${basename(source)}: ${path}`));
    if (key === 'awsAccountRegion' && /^[a-z]{2}-[a-z]+-\d$/.test(s)) {
      found.push({ url: `https://events.${s}.amazonaws.com`, host: `events.${s}.amazonaws.com`, foundIn: `${basename(source)}: ${path} (EventBridge region)` });
    }
  }
  const type = (d.integrationType as { id?: string } | undefined)?.id;
  // The fields an integration says it sends: a `fields` or `declaredFields` list among its configuration properties.
  const properties = ((d.config as { current?: { properties?: Record<string, unknown> } } | undefined)?.current?.properties ?? {});
  const declared = [properties.fields, properties.declaredFields].find(Array.isArray) as unknown[] | undefined;
  return {
    id: d.id,
    name: d.name,
    kind: isClient ? 'OAUTH_CLIENT' : 'INTEGRATION',
    scopes: isClient ? ((d.scope as string[]) ?? []) : [],
    fields: (declared ?? []).filter((f): f is string => typeof f === 'string' && f.length > 0),
    destinations: found,
    definitionHash: definitionOf(raw).hash,
    processingNature: isClient ? `API access (${String(d.authorizedGrantType ?? 'unknown grant')})` : `Integration ${type ?? 'unknown type'}`,
    frequency: isClient || type === 'amazon-eventbridge-source' ? 'Real-time' : 'On demand',
  };
}

/** Payload samples (files, or every file of a directory) → content-scanner counts per sample; never the values. */
export function scanSamples(paths: string[]): { name: string; counts: Record<string, number> }[] {
  const files = paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).sort().map((f) => join(p, f)) : [resolve(p)]));
  return files.map((f) => {
    const text = readFileSync(f, 'utf8');
    let findings;
    try {
      findings = scanValue(JSON.parse(text));
    } catch {
      findings = scanText(text);
    }
    const counts = Object.fromEntries(Object.entries(summarize(findings)).filter(([, n]) => n > 0));
    return { name: basename(f), counts };
  });
}
