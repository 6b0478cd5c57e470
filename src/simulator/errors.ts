import type { ZodError } from 'zod';

/** An expected API failure, turned into an ErrorBody by the HTTP layer. */
export interface Problem {
  status: number;
  code: string;
  message: string;
  messageWithParams?: string;
  messageParams?: Record<string, string>;
  details?: { errorCode: string; fieldName?: string; entityId?: string }[];
}

/** Outcome of an org operation a client can get wrong: a value, or the problem to answer with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = (problem: Problem): { ok: false; problem: Problem } => ({ ok: false, problem });

export const notFound = (what = 'The requested resource was not found.'): Problem => ({ status: 404, code: 'not.found', message: what });
export const badRequest = (message: string, code = 'bad.request'): Problem => ({ status: 400, code, message });

/** Zod issues as a 400 whose details name each offending field. */
export function invalidBody(error: ZodError): Problem {
  const details = error.issues.map((i) => ({ errorCode: 'invalid.value', fieldName: i.path.join('.') }));
  const first = error.issues[0];
  const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
  return { status: 400, code: 'invalid.value', message: `${where}${first?.message ?? 'invalid body'}`, details };
}

/** ErrorBody as Genesys returns it on every API error. */
export function errorBody(p: Problem, contextId: string): Record<string, unknown> {
  return {
    message: p.message,
    code: p.code,
    status: p.status,
    messageWithParams: p.messageWithParams ?? p.message,
    messageParams: p.messageParams ?? {},
    contextId,
    details: p.details ?? [],
    errors: [],
  };
}
