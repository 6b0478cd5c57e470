import { z } from 'zod';
import { badRequest, fail, invalidBody, ok, type Outcome } from './errors.ts';
import { iso } from './ids.ts';
import type { Clock, EntityRef, GdprRequest, GdprSubject } from './types.ts';

const strings = z.array(z.string()).optional();
const GdprRequestBody = z.object({
  name: z.string().optional(),
  requestType: z.enum(['GDPR_EXPORT', 'GDPR_UPDATE', 'GDPR_DELETE']),
  subject: z.object({
    name: z.string().optional(), userId: z.string().optional(), externalContactId: z.string().optional(), externalId: z.string().optional(),
    addresses: strings, phoneNumbers: strings, emailAddresses: strings,
  }),
  replacementTerms: z.array(z.object({ type: z.string(), existingValue: z.string(), updatedValue: z.string() })).optional(),
});

export const GDPR_SEARCH_TYPES = ['NAME', 'ADDRESS', 'PHONE', 'EMAIL', 'TWITTER', 'INSTAGRAM', 'FACEBOOK', 'APPLE_MESSAGES', 'WHATSAPP', 'EXTERNAL_ID'] as const;

export interface GdprDeps {
  clock: Clock;
  newId: () => string;
  delayMs: number;
  createdBy: EntityRef;
  schedule: (ms: number, fn: () => void) => void;
  /** Applied once when a request completes (a GDPR_DELETE removes the subject's external contact). */
  onComplete: (r: GdprRequest) => void;
}

/** GDPR requests: INITIATED when submitted, COMPLETED `delayMs` later. */
export class GdprStore {
  private readonly requests = new Map<string, GdprRequest & { dueAt: number }>();
  constructor(private readonly deps: GdprDeps) {}

  /** A GDPR_DELETE must be confirmed with `deleteConfirmed=true`; a GDPR_UPDATE needs replacement terms. */
  submit(body: unknown, deleteConfirmed: boolean): Outcome<GdprRequest> {
    const parsed = GdprRequestBody.safeParse(body);
    if (!parsed.success) return fail(invalidBody(parsed.error));
    const b = parsed.data;
    if (b.requestType === 'GDPR_DELETE' && !deleteConfirmed) return fail(badRequest('A GDPR_DELETE request must be confirmed with deleteConfirmed=true', 'gdpr.delete.not.confirmed'));
    if (b.requestType === 'GDPR_UPDATE' && !b.replacementTerms?.length) return fail(badRequest('A GDPR_UPDATE request needs replacementTerms', 'invalid.value'));
    const now = this.deps.clock();
    const id = this.deps.newId();
    const request = {
      id, ...(b.name ? { name: b.name } : {}), createdBy: this.deps.createdBy, ...(b.replacementTerms ? { replacementTerms: b.replacementTerms } : {}),
      requestType: b.requestType, createdDate: iso(now), status: 'INITIATED' as const, subject: b.subject as GdprSubject, selfUri: `/api/v2/gdpr/requests/${id}`, dueAt: now + this.deps.delayMs,
    };
    this.requests.set(id, request);
    this.deps.schedule(this.deps.delayMs, () => this.settle(id));
    return ok(this.view(request));
  }

  get(id: string): GdprRequest | undefined {
    this.settle(id);
    const r = this.requests.get(id);
    return r && this.view(r);
  }

  /** Newest first. */
  all(): GdprRequest[] {
    return [...this.requests.keys()].map((id) => this.get(id)!).reverse();
  }

  private view(r: GdprRequest & { dueAt: number }): GdprRequest {
    const { dueAt: _d, ...rest } = r;
    return structuredClone(rest);
  }

  private settle(id: string): void {
    const r = this.requests.get(id);
    if (!r || r.status === 'COMPLETED' || this.deps.clock() < r.dueAt) return;
    r.status = 'COMPLETED';
    if (r.requestType === 'GDPR_EXPORT') r.resultsUrl = `/api/v2/gdpr/requests/${r.id}/results.zip`;
    this.deps.onComplete(this.view(r));
  }
}
