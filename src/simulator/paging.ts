import { badRequest, fail, ok, type Outcome } from './errors.ts';

export interface PageListing<T> {
  entities: T[];
  pageSize: number;
  pageNumber: number;
  total: number;
  pageCount: number;
  firstUri: string;
  selfUri: string;
  lastUri: string;
  nextUri?: string;
  previousUri?: string;
}

/** Reads pageSize/pageNumber from a query; rejects values that are not positive integers or exceed `max`. */
export function pageParams(query: URLSearchParams, defaults: { pageSize: number; max: number }): Outcome<{ pageSize: number; pageNumber: number }> {
  const pageSize = Number(query.get('pageSize') ?? defaults.pageSize);
  const pageNumber = Number(query.get('pageNumber') ?? 1);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > defaults.max) return fail(badRequest(`pageSize must be an integer from 1 to ${defaults.max}`, 'invalid.value'));
  if (!Number.isInteger(pageNumber) || pageNumber < 1) return fail(badRequest('pageNumber must be a positive integer', 'invalid.value'));
  return ok({ pageSize, pageNumber });
}

/** A page-number listing with the URIs Genesys includes (relative paths; their exact format is unverified). */
export function pageListing<T>(all: T[], pageSize: number, pageNumber: number, path: string, extra: Record<string, string> = {}): PageListing<T> {
  const pageCount = Math.ceil(all.length / pageSize);
  const uri = (n: number) => `${path}?${new URLSearchParams({ ...extra, pageSize: String(pageSize), pageNumber: String(n) })}`;
  return {
    entities: all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize),
    pageSize,
    pageNumber,
    total: all.length,
    pageCount,
    firstUri: uri(1),
    selfUri: uri(pageNumber),
    lastUri: uri(Math.max(pageCount, 1)),
    ...(pageNumber < pageCount ? { nextUri: uri(pageNumber + 1) } : {}),
    ...(pageNumber > 1 ? { previousUri: uri(pageNumber - 1) } : {}),
  };
}

/** Opaque cursor naming a position in one job's frozen result set. */
export function encodeCursor(jobId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ j: jobId, o: offset })).toString('base64');
}

export function decodeCursor(jobId: string, cursor: string | null): Outcome<number> {
  if (!cursor) return ok(0);
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as { j?: unknown; o?: unknown };
    if (c.j === jobId && typeof c.o === 'number' && Number.isInteger(c.o) && c.o >= 0) return ok(c.o);
  } catch {
    // fall through: any undecodable cursor is the client's mistake
  }
  return fail(badRequest('The cursor is invalid for this job', 'invalid.cursor'));
}
