import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARN_RE } from '../domain/jurisdiction.ts';

export interface FoundDestination {
  url: string;
  host: string;
  foundIn: string;
}

/** An http(s) URL inside any text (a property value, an HCL expression, a JSON string). */
export const URL_RE = /\bhttps?:\/\/[a-z0-9.-]+(?::\d+)?[^\s"'}),]*/gi;

/** The URLs and AWS ARNs in a text: each is a destination (an ARN's "host" is the ARN itself). */
export function destinationsIn(text: string, foundIn: string): FoundDestination[] {
  const out: FoundDestination[] = [];
  for (const m of text.matchAll(URL_RE)) {
    if (URL.canParse(m[0])) out.push({ url: m[0], host: new URL(m[0]).hostname.toLowerCase(), foundIn });
  }
  for (const m of text.matchAll(ARN_RE)) out.push({ url: m[0], host: m[0].toLowerCase(), foundIn });
  return out;
}

/** Terraform resources of the aws provider that hold data on its way (middleware hops), and the attribute naming each. */
const AWS_HOPS: Record<string, { service: string; name: string; resource: (name: string) => string }> = {
  aws_lambda_function: { service: 'lambda', name: 'function_name', resource: (n) => `function:${n}` },
  aws_sqs_queue: { service: 'sqs', name: 'name', resource: (n) => n },
  aws_sns_topic: { service: 'sns', name: 'name', resource: (n) => n },
  aws_cloudwatch_event_bus: { service: 'events', name: 'name', resource: (n) => `event-bus/${n}` },
  aws_sfn_state_machine: { service: 'states', name: 'name', resource: (n) => `stateMachine:${n}` },
  aws_kinesis_firehose_delivery_stream: { service: 'firehose', name: 'name', resource: (n) => `deliverystream/${n}` },
};
const REGION_RE = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** The region of the (first, unaliased) aws provider block, variables resolved. */
function providerRegion(files: Record<string, unknown>[], vars: Map<string, string>): string | null {
  for (const json of files) {
    const blocks = ((json.provider ?? {}) as Record<string, Record<string, unknown>[]>).aws ?? [];
    for (const b of blocks) {
      if (b.alias) continue;
      const r = typeof b.region === 'string' ? resolveVars(b.region, vars).replace(/"/g, '') : null;
      if (r && REGION_RE.test(r)) return r;
    }
  }
  return null;
}

/** Replaces `var.name` and `${var.name}` with the variable's value where it is known (defaults and .tfvars). */
function resolveVars(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\{var\.([A-Za-z0-9_-]+)\}/g, (m, n: string) => vars.get(n) ?? m).replace(/\bvar\.([A-Za-z0-9_-]+)\b/g, (m, n: string) => (vars.has(n) ? JSON.stringify(vars.get(n)) : m));
}

function walk(v: unknown, path: string, visit: (s: string, path: string, key: string) => void, key = ''): void {
  if (typeof v === 'string') visit(v, path, key);
  else if (Array.isArray(v)) v.forEach((x, i) => walk(x, v.length === 1 ? path : `${path}[${i}]`, visit, key));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, visit, k);
}

/**
 * Outbound destinations declared in a Terraform directory, found with HashiCorp's own HCL parser (`@cdktf/hcl2json`,
 * the Go parser compiled to WebAssembly), not regexes over the source: every URL in any resource, module, data
 * source or local — with `var.*` resolved from variable defaults and `*.tfvars` — and every AWS region given to an
 * EventBridge integration or module (the EventBridge endpoint of that region is where the data lands).
 */
export async function destinationsFromTerraform(dir: string): Promise<FoundDestination[]> {
  // Loaded here, not at import: the parser instantiates its WebAssembly on load (~70 MB in every process).
  const { parse } = await import('@cdktf/hcl2json');
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf') || f.endsWith('.tfvars')).sort();
  const parsed: { file: string; json: Record<string, unknown> }[] = [];
  for (const file of files) {
    try {
      parsed.push({ file, json: (await parse(file, readFileSync(join(dir, file), 'utf8'))) as Record<string, unknown> });
    } catch (err) {
      throw Object.assign(new Error(`${join(dir, file)}: not valid HCL: ${(err as Error).message}`), { exitCode: 2 });
    }
  }
  const vars = new Map<string, string>();
  for (const { json } of parsed.filter((p) => p.file.endsWith('.tf'))) {
    for (const [name, blocks] of Object.entries((json.variable ?? {}) as Record<string, { default?: unknown }[]>)) {
      const d = blocks[0]?.default;
      if (typeof d === 'string') vars.set(name, d);
    }
  }
  for (const { json } of parsed.filter((p) => p.file.endsWith('.tfvars'))) for (const [k, v] of Object.entries(json)) if (typeof v === 'string') vars.set(k, v);

  const out = new Map<string, FoundDestination>();
  for (const { file, json } of parsed.filter((p) => p.file.endsWith('.tf'))) {
    for (const section of ['resource', 'module', 'data', 'locals', 'output']) {
      walk(json[section], section, (raw, path, key) => {
        const s = resolveVars(raw, vars);
        for (const d of destinationsIn(s, `${file}: ${path}`)) out.set(`${d.url}|${d.foundIn}`, d);
        const regions = /region/i.test(key) ? [s.replace(/"/g, '')] : [...s.matchAll(/awsAccountRegion\s*=\s*"([a-z0-9-]+)"/g)].map((x) => x[1]!);
        for (const region of regions) {
          if (!REGION_RE.test(region) || !/eventbridge|event_bridge|awsAccountRegion|aws_account_region/i.test(`${path} ${raw}`)) continue;
          const host = `events.${region}.amazonaws.com`;
          out.set(`${host}|${file}:${path}`, { url: `https://${host}`, host, foundIn: `${file}: ${path} (EventBridge region ${region})` });
        }
      });
    }
  }
  // Middleware the aws provider creates (functions, queues, topics, buses) is a hop in the provider's region, ARN or not.
  const region = providerRegion(parsed.map((p) => p.json), vars);
  for (const { file, json } of parsed.filter((p) => p.file.endsWith('.tf'))) {
    for (const [type, byName] of Object.entries((json.resource ?? {}) as Record<string, Record<string, Record<string, unknown>[]>>)) {
      const hop = AWS_HOPS[type];
      if (!hop) continue;
      for (const [label, blocks] of Object.entries(byName)) {
        const given = blocks[0]?.[hop.name];
        const name = typeof given === 'string' ? resolveVars(given, vars).replace(/"/g, '') : label;
        const arn = `arn:aws:${hop.service}:${region ?? 'unknown-region'}::${hop.resource(name)}`;
        out.set(`${arn}|${file}`, { url: arn, host: arn.toLowerCase(), foundIn: `${file}: resource.${type}.${label}${region ? '' : ' (no aws provider region found)'}` });
      }
    }
  }
  return [...out.values()].sort((a, b) => a.foundIn.localeCompare(b.foundIn) || a.url.localeCompare(b.url));
}
