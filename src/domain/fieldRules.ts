import type { FieldAction, PersonalField, SinkPolicy } from './policy.ts';
import type { ConversationRecord } from './types.ts';

/** What a sink receives: the record with its personal fields reduced, plus the export stamp when it came from one. */
export interface SinkRecord extends ConversationRecord {
  exportJobId: string | null;
  exportVersion: number | null;
}

/** Keyed transforms supplied by an adapter (HMAC pseudonyms, authenticated encryption): the domain holds no keys. */
export interface FieldTransforms {
  pseudonymize(value: string): string;
  encrypt(value: string, customerId: string | null): string;
  /** Under the customer's data key for the sink's purpose (the enforcement binds it per record). */
  shred(value: string): string;
}

function transform(action: FieldAction, value: string | null, t: FieldTransforms, customerId: string | null): string | null {
  if (value === null) return null;
  switch (action) {
    case 'keep':
      return value;
    case 'drop':
      return null;
    case 'pseudonymize':
      return t.pseudonymize(value);
    case 'encrypt':
      return t.encrypt(value, customerId);
    case 'shred':
      return t.shred(value);
  }
}

/** Applies a sink's field rules; a dropped field becomes null (a dropped `attributes` map becomes empty). */
export function reduceForSink(record: SinkRecord, sink: SinkPolicy, t: FieldTransforms): SinkRecord {
  const action = (f: PersonalField): FieldAction => sink.fields[f] ?? sink.defaultAction;
  const apply = (f: PersonalField, v: string | null) => transform(action(f), v, t, record.customerId);
  const attributes: Record<string, string> = {};
  if (action('attributes') !== 'drop') {
    for (const [k, v] of Object.entries(record.attributes)) attributes[k] = apply('attributes', v) as string;
  }
  return {
    ...record,
    participants: record.participants.map((p) => ({
      ...p,
      name: apply('participants.name', p.name),
      address: apply('participants.address', p.address),
    })),
    ani: apply('ani', record.ani),
    dnis: apply('dnis', record.dnis),
    attributes,
    transcript: apply('transcript', record.transcript),
  };
}
