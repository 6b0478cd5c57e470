import type { Grant } from './auth.ts';
import type { Outcome, Problem } from './errors.ts';

export interface ApiRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  grant: Grant;
}

/** A handler's answer: a status with an optional JSON body, or a problem the HTTP layer renders as an ErrorBody. */
export type ApiResponse = { status: number; body?: unknown; headers?: Record<string, string> } | { problem: Problem };

export interface Route {
  method: string;
  segments: string[];
  handler: (req: ApiRequest) => ApiResponse;
}

/** Declares a route; `:name` segments become `req.params.name`. */
export function route(method: string, pattern: string, handler: (req: ApiRequest) => ApiResponse): Route {
  return { method, segments: pattern.split('/').filter(Boolean), handler };
}

/** Matches a path against a route's segments; literal segments win because routes are tried in order. */
export function match(r: Route, path: string): Record<string, string> | undefined {
  const parts = path.split('/').filter(Boolean);
  if (parts.length !== r.segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of r.segments.entries()) {
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(parts[i]!);
    else if (seg !== parts[i]) return undefined;
  }
  return params;
}

export function reply<T>(o: Outcome<T>, render: (v: T) => unknown = (v) => v, status = 200): ApiResponse {
  return o.ok ? { status, body: render(o.value) } : { problem: o.problem };
}

export const json = (body: unknown, status = 200): ApiResponse => ({ status, body });
export const noContent = (): ApiResponse => ({ status: 204 });
