import { z } from 'zod';
import { badRequest, fail, invalidBody, notFound, ok, type Outcome } from './errors.ts';
import { iso } from './ids.ts';
import { pageListing, pageParams, type PageListing } from './paging.ts';
import { validateCustomFields } from './schema.ts';
import type { Clock, DataSchema, ExternalContact, GdprSubject, PhoneNumber } from './types.ts';

const str = z.string().optional();
const phone = z.object({ display: str, e164: str, countryCode: str, extension: str, acceptsSMS: z.boolean().optional(), userInput: str });

/** The editable part of an ExternalContact; server-managed fields (dates, division, selfUri) are ignored. */
export const ContactBody = z.object({
  id: str,
  firstName: str, middleName: str, lastName: str, salutation: str, title: str,
  workPhone: phone.optional(), cellPhone: phone.optional(), homePhone: phone.optional(), otherPhone: phone.optional(),
  workEmail: str, personalEmail: str, otherEmail: str,
  address: z.object({ address1: str, address2: str, city: str, state: str, postalCode: str, countryCode: str }).optional(),
  surveyOptOut: z.boolean().optional(),
  externalSystemUrl: str,
  externalIds: z.array(z.object({ externalSource: z.object({ id: z.string(), name: str }).optional(), value: z.string() })).optional(),
  schema: z.object({ id: z.string(), version: z.number().optional() }).nullish(),
  customFields: z.record(z.string(), z.unknown()).nullish(),
});
export type ContactInput = z.infer<typeof ContactBody>;

const PHONES = ['workPhone', 'cellPhone', 'homePhone', 'otherPhone'] as const;
const EMAILS = ['workEmail', 'personalEmail', 'otherEmail'] as const;

function normalizePhone(p: PhoneNumber | undefined): PhoneNumber | undefined {
  if (!p) return undefined;
  const e164 = p.e164 ?? (p.display ? p.display.replace(/[^\d+]/g, '') : undefined);
  return { ...p, ...(e164 ? { e164, display: p.display ?? e164 } : {}) };
}

const digits = (s: string) => s.replace(/\D/g, '');

export interface ContactStoreDeps {
  clock: Clock;
  newId: () => string;
  divisionId: string;
  schemas: Map<string, DataSchema>;
  onChange: (c: ExternalContact) => void;
}

/** External contacts; every create or change is reported through `onChange` (the contact topic). */
export class ContactStore {
  private readonly byId = new Map<string, ExternalContact>();
  constructor(private readonly deps: ContactStoreDeps) {}

  get(id: string): ExternalContact | undefined {
    return this.byId.get(id);
  }

  all(): ExternalContact[] {
    return [...this.byId.values()];
  }

  /** Creates (new id) or replaces the editable fields of a contact, after validating custom fields. */
  save(input: ContactInput, id: string | undefined): Outcome<ExternalContact> {
    const existing = id ? this.byId.get(id) : undefined;
    const customFields = Object.fromEntries(Object.entries(input.customFields ?? {}).filter(([, v]) => v !== null));
    let schemaRef: ExternalContact['schema'];
    if (input.schema) {
      const schema = this.deps.schemas.get(input.schema.id);
      if (!schema) return fail(badRequest(`Schema ${input.schema.id} does not exist`, 'invalid.value'));
      const checked = validateCustomFields(schema, customFields);
      if (!checked.ok) return checked;
      schemaRef = { id: schema.id, version: schema.version, selfUri: schema.selfUri };
    } else if (Object.keys(customFields).length) {
      return fail(badRequest('customFields require a schema reference', 'invalid.value'));
    }
    const now = this.deps.clock();
    // Every change bumps modifyDate, even two within one millisecond, so (id, modifyDate) names a version.
    const modified = existing ? Math.max(now, Date.parse(existing.modifyDate) + 1) : now;
    const contactId = existing?.id ?? id ?? this.deps.newId();
    const { id: _ignored, schema: _schema, customFields: _fields, ...editable } = input;
    const contact: ExternalContact = {
      id: contactId,
      division: { id: this.deps.divisionId, name: 'Home', selfUri: `/api/v2/authorization/divisions/${this.deps.divisionId}` },
      type: 'Curated',
      ...editable,
      ...Object.fromEntries(PHONES.map((k) => [k, normalizePhone(editable[k])])),
      ...(schemaRef ? { schema: schemaRef, customFields } : {}),
      createDate: existing?.createDate ?? iso(now),
      modifyDate: iso(modified),
      selfUri: `/api/v2/externalcontacts/contacts/${contactId}`,
    };
    this.byId.set(contactId, JSON.parse(JSON.stringify(contact)) as ExternalContact);
    this.deps.onChange(this.byId.get(contactId)!);
    return ok(this.byId.get(contactId)!);
  }

  /** PUT semantics: the body replaces every editable field of an existing contact. */
  replace(id: string, body: unknown): Outcome<ExternalContact> {
    if (!this.byId.has(id)) return fail(notFound(`External contact ${id} not found`));
    const parsed = ContactBody.safeParse(body);
    return parsed.success ? this.save(parsed.data, id) : fail(invalidBody(parsed.error));
  }

  create(body: unknown): Outcome<ExternalContact> {
    const parsed = ContactBody.safeParse(body);
    return parsed.success ? this.save({ ...parsed.data, id: undefined }, undefined) : fail(invalidBody(parsed.error));
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  /** ContactListing; Genesys caps pageNumber*pageSize at 1000. */
  list(query: URLSearchParams): Outcome<PageListing<ExternalContact> & { partialResults: boolean }> {
    const page = pageParams(query, { pageSize: 20, max: 1000 });
    if (!page.ok) return page;
    const { pageSize, pageNumber } = page.value;
    if (pageSize * pageNumber > 1000) return fail(badRequest('pageNumber * pageSize must not exceed 1000', 'invalid.value'));
    const q = query.get('q')?.toLowerCase();
    const sortOrder = query.get('sortOrder');
    const matches = this.all().filter((c) => !q || searchText(c).includes(q));
    const byId = (a: ExternalContact, b: ExternalContact) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const direction = sortOrder === 'modifyDate:desc' ? -1 : sortOrder === 'modifyDate:asc' ? 1 : 0;
    matches.sort((a, b) => (direction && a.modifyDate !== b.modifyDate ? (a.modifyDate < b.modifyDate ? -direction : direction) : byId(a, b)));
    const extra: Record<string, string> = { ...(q ? { q } : {}), ...(sortOrder ? { sortOrder } : {}) };
    return ok({ ...pageListing(matches, pageSize, pageNumber, '/api/v2/externalcontacts/contacts', extra), partialResults: false });
  }

  /** GDPR subject search over contacts; unsupported search types find nothing. */
  subjects(searchType: string, searchValue: string): GdprSubject[] {
    const v = searchValue.toLowerCase();
    const hit = (c: ExternalContact): boolean => {
      switch (searchType) {
        case 'EMAIL':
          return EMAILS.some((k) => c[k]?.toLowerCase() === v);
        case 'PHONE':
          return digits(v).length > 0 && PHONES.some((k) => c[k]?.e164 !== undefined && digits(c[k]!.e164!) === digits(v));
        case 'NAME':
          return fullName(c).toLowerCase() === v;
        case 'EXTERNAL_ID':
          return c.id === searchValue || (c.externalIds ?? []).some((e) => e.value === searchValue);
        default:
          return false;
      }
    };
    return this.all().filter(hit).map(subjectOf);
  }
}

const fullName = (c: ExternalContact) => [c.firstName, c.lastName].filter(Boolean).join(' ');

function searchText(c: ExternalContact): string {
  return [fullName(c), ...EMAILS.map((k) => c[k]), ...PHONES.map((k) => c[k]?.e164)].filter(Boolean).join(' ').toLowerCase();
}

function subjectOf(c: ExternalContact): GdprSubject {
  return {
    name: fullName(c),
    externalContactId: c.id,
    addresses: c.address ? [[c.address.address1, c.address.city, c.address.postalCode].filter(Boolean).join(', ')] : [],
    phoneNumbers: PHONES.map((k) => c[k]?.e164).filter((p): p is string => !!p),
    emailAddresses: EMAILS.map((k) => c[k]).filter((e): e is string => !!e),
  };
}

/** Body of `v2.externalcontacts.contacts.{id}` (ExternalContactsContactChangedTopicContact). */
export function contactEvent(c: ExternalContact): Record<string, unknown> {
  const { selfUri: _self, division, schema, ...rest } = c;
  return { ...rest, ...(division ? { division: { id: division.id } } : {}), ...(schema ? { schema: { id: schema.id, version: schema.version } } : {}) };
}
