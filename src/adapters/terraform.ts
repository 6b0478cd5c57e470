import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FoundDestination {
  url: string;
  host: string;
  foundIn: string;
}

/** An http(s) URL inside any text (a property value, an HCL expression, a JSON string). */
export const URL_RE = /\bhttps?:\/\/[a-z0-9.-]+(?::\d+)?[^\s"'}),]*/gi;
const REGION_RE = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

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
        for (const m of s.matchAll(URL_RE)) {
          const url = m[0];
          const host = new URL(url).hostname.toLowerCase();
          out.set(`${url}|${file}:${path}`, { url, host, foundIn: `${file}: ${path}` });
        }
        const regions = /region/i.test(key) ? [s.replace(/"/g, '')] : [...s.matchAll(/awsAccountRegion\s*=\s*"([a-z0-9-]+)"/g)].map((x) => x[1]!);
        for (const region of regions) {
          if (!REGION_RE.test(region) || !/eventbridge|event_bridge|awsAccountRegion|aws_account_region/i.test(`${path} ${raw}`)) continue;
          const host = `events.${region}.amazonaws.com`;
          out.set(`${host}|${file}:${path}`, { url: `https://${host}`, host, foundIn: `${file}: ${path} (EventBridge region ${region})` });
        }
      });
    }
  }
  return [...out.values()].sort((a, b) => a.foundIn.localeCompare(b.foundIn) || a.url.localeCompare(b.url));
}
