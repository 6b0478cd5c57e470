import { badRequest, fail, ok, type Outcome } from './errors.ts';
import type { DataSchema, EntityRef, SchemaProperty } from './types.ts';

/**
 * Custom-field keys of the org's "ComplianceConsent" contact schema. Genesys suffixes every key with its core
 * type (`_checkbox`, `_datetime`, `_text`).
 */
export const COMPLIANCE_CONSENT_FIELDS = {
  marketing: 'consent_marketing_checkbox',
  analytics: 'consent_analytics_checkbox',
  thirdParty: 'consent_third_party_checkbox',
  lastConsentAt: 'last_consent_timestamp_datetime',
  source: 'consent_source_text',
} as const;

const prop = (type: string, title: string, extra: Partial<SchemaProperty> = {}): SchemaProperty => ({ allOf: [{ $ref: `#/definitions/${type}` }], title, ...extra });

export function complianceConsentSchema(id: string, createdBy: EntityRef, dateCreated: string): DataSchema {
  const F = COMPLIANCE_CONSENT_FIELDS;
  return {
    id,
    name: 'ComplianceConsent',
    version: 1,
    appliesTo: ['CONTACT'],
    enabled: true,
    createdBy,
    dateCreated,
    jsonSchema: {
      $schema: 'http://json-schema.org/draft-04/schema#',
      title: 'ComplianceConsent',
      description: 'Consent a customer gave, per purpose',
      type: 'object',
      required: [],
      properties: {
        [F.marketing]: prop('checkbox', 'Marketing consent'),
        [F.analytics]: prop('checkbox', 'Analytics consent'),
        [F.thirdParty]: prop('checkbox', 'Third-party sharing consent'),
        [F.lastConsentAt]: prop('datetime', 'Last consent timestamp'),
        [F.source]: prop('text', 'Consent source', { maxLength: 100, minLength: 0 }),
      },
      additionalProperties: false,
    },
    selfUri: `/api/v2/externalcontacts/contacts/schemas/${id}`,
  };
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function fitsCoreType(p: SchemaProperty, v: unknown): boolean {
  const type = p.allOf[0]?.$ref.replace('#/definitions/', '');
  const lengthOk = (s: string) => s.length <= (p.maxLength ?? Infinity) && s.length >= (p.minLength ?? 0);
  switch (type) {
    case 'checkbox':
      return typeof v === 'boolean';
    case 'text':
    case 'longtext':
    case 'url':
    case 'identifier':
      return typeof v === 'string' && lengthOk(v);
    case 'datetime':
      return typeof v === 'string' && ISO_DATETIME.test(v) && !Number.isNaN(Date.parse(v));
    case 'date':
      return typeof v === 'string' && ISO_DATE.test(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isInteger(v);
    case 'enum':
      return typeof v === 'string' && (p.enum ?? []).includes(v);
    case 'tag':
      return Array.isArray(v) && v.every((t) => typeof t === 'string');
    default:
      return false;
  }
}

/** Checks custom fields against a schema: every key must be a schema property and every value fit its core type. */
export function validateCustomFields(schema: DataSchema, fields: Record<string, unknown>): Outcome<Record<string, unknown>> {
  for (const [key, value] of Object.entries(fields)) {
    const p = schema.jsonSchema.properties[key];
    if (!p) return fail({ ...badRequest(`Custom field '${key}' is not defined by schema '${schema.name}'`, 'invalid.value'), details: [{ errorCode: 'invalid.value', fieldName: `customFields.${key}` }] });
    if (value !== null && !fitsCoreType(p, value)) {
      return fail({ ...badRequest(`Custom field '${key}' does not match its type ${p.allOf[0]?.$ref ?? ''}`, 'invalid.value'), details: [{ errorCode: 'invalid.value', fieldName: `customFields.${key}` }] });
    }
  }
  for (const key of schema.jsonSchema.required) {
    if (fields[key] === undefined) return fail(badRequest(`Custom field '${key}' is required by schema '${schema.name}'`, 'invalid.value'));
  }
  return ok(fields);
}
