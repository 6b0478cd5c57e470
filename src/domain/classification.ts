import { z } from 'zod';

/**
 * Data classification as code (topologies/classification.json) and allowed destinations
 * (topologies/destinations.json): the vocabulary the DPIA engine assesses with. Pure: parsing and lookups only.
 */

export const RISK_LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];
export const REGULATORY_CATEGORIES = ['GDPR_PII', 'UNSTRUCTURED_PII', 'SPECIAL_CATEGORY', 'PCI', 'FINANCIAL', 'RECORDING_BIOMETRIC', 'EMPLOYEE_PII', 'AGGREGATED', 'NONE'] as const;

export const riskRank = (r: RiskLevel) => RISK_LEVELS.indexOf(r);
export const maxRisk = (rs: RiskLevel[]): RiskLevel => rs.reduce<RiskLevel>((a, b) => (riskRank(b) > riskRank(a) ? b : a), 'LOW');

const DataElement = z.object({
  id: z.string().regex(/^[a-z0-9_]+$/),
  source_api_endpoints: z.array(z.string().startsWith('/api/v2/')),
  fields: z.array(z.string()).min(1),
  regulatory_category: z.enum(REGULATORY_CATEGORIES),
  risk_level: z.enum(RISK_LEVELS),
  default_retention_days: z.number().int().nonnegative(),
  encryption_required: z.boolean(),
});
export type DataElement = z.infer<typeof DataElement>;

export const ClassificationSchema = z
  .object({
    description: z.string().default(''),
    version: z.string().min(1),
    data_elements: z.array(DataElement).min(1),
    /** OAuth scope → the endpoints it opens. */
    scopes: z.record(z.string(), z.array(z.string())),
    /** Context-aware classification: when all these elements flow together, `raise` becomes at least `to`. */
    context_rules: z.array(z.object({ when_all: z.array(z.string()).min(2), raise: z.string(), to: z.enum(RISK_LEVELS), reason: z.string() })).default([]),
    /** Content-scanner finding kind → the data element it reveals. */
    scan_findings: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((c, ctx) => {
    const ids = new Set(c.data_elements.map((e) => e.id));
    const refs = [...c.context_rules.flatMap((r) => [...r.when_all, r.raise]), ...Object.values(c.scan_findings)];
    for (const id of refs) if (!ids.has(id)) ctx.addIssue({ code: 'custom', message: `unknown data element ${id}` });
  });
export type Classification = z.infer<typeof ClassificationSchema>;

/** Transfer safeguards (GDPR Ch. V) a destination or vendor may have on record: SCCs, the Data Privacy Framework, BCRs. */
export const TRANSFER_SAFEGUARDS = ['SCC', 'DPF', 'BCR'] as const;

export const DestinationsSchema = z.object({
  description: z.string().default(''),
  /** Where the data originates (the Genesys org's jurisdiction). */
  source_jurisdiction: z.string().min(2),
  adequate_jurisdictions: z.array(z.string()).min(1),
  destinations: z.array(z.object({
    /** Host name; `*.` matches any subdomain. */
    pattern: z.string().min(3),
    name: z.string(),
    jurisdiction: z.string().min(2),
    /** Transfer safeguards in place, e.g. SCC, DPF, BCR. */
    safeguards: z.array(z.string()).default([]),
  })),
});
export type Destinations = z.infer<typeof DestinationsSchema>;
export type ApprovedDestination = Destinations['destinations'][number];

export function matchDestination(host: string, allow: Destinations): ApprovedDestination | undefined {
  const h = host.toLowerCase();
  return allow.destinations.find((d) => glob(d.pattern).test(h));
}

/** An allow-list pattern: `*` stands for any run of characters (`*.my.salesforce.com`, `arn:aws:*:eu-west-1:*`). */
const globs = new Map<string, RegExp>();
function glob(pattern: string): RegExp {
  let re = globs.get(pattern);
  if (!re) globs.set(pattern, (re = new RegExp(`^${pattern.toLowerCase().split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`)));
  return re;
}

/** Two endpoint paths are the same resource when every segment matches, `{…}` matching any one segment. */
function covers(template: string, endpoint: string): boolean {
  const t = template.split('/');
  const e = endpoint.split('/');
  return t.length === e.length && t.every((seg, i) => seg === e[i] || seg.startsWith('{') || e[i]!.startsWith('{'));
}

/** The data elements an OAuth client's scopes expose (through the endpoints the scopes open). */
export function elementsForScopes(scopes: string[], c: Classification): { element: DataElement; scopes: string[] }[] {
  const out = new Map<string, { element: DataElement; scopes: string[] }>();
  for (const scope of scopes) {
    for (const endpoint of c.scopes[scope] ?? []) {
      for (const e of c.data_elements) {
        if (!e.source_api_endpoints.some((s) => covers(s, endpoint))) continue;
        const hit = out.get(e.id) ?? { element: e, scopes: [] };
        if (!hit.scopes.includes(scope)) hit.scopes.push(scope);
        out.set(e.id, hit);
      }
    }
  }
  return [...out.values()];
}

/** The data elements declared fields name (case-insensitive, the last path segment: `customer.email` → email). */
export function elementsForFields(fields: string[], c: Classification): { element: DataElement; fields: string[] }[] {
  const out = new Map<string, { element: DataElement; fields: string[] }>();
  for (const field of fields) {
    const leaf = field.split(/[.[\]]/).filter(Boolean).at(-1)?.toLowerCase() ?? '';
    for (const e of c.data_elements) {
      if (!e.fields.some((f) => f.toLowerCase() === leaf)) continue;
      const hit = out.get(e.id) ?? { element: e, fields: [] };
      if (!hit.fields.includes(field)) hit.fields.push(field);
      out.set(e.id, hit);
    }
  }
  return [...out.values()];
}

/** Declared fields the classification does not know (reported, never silently ignored). */
export function unknownFields(fields: string[], c: Classification): string[] {
  return fields.filter((f) => elementsForFields([f], c).length === 0);
}

/** Scopes the classification does not know: assessed as unknown exposure, never silently ignored. */
export function unknownScopes(scopes: string[], c: Classification): string[] {
  return scopes.filter((s) => !(s in c.scopes));
}
