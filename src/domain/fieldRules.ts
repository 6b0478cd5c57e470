import { shreds, type FieldAction, type PersonalField, type SinkPolicy } from './policy.ts';
import type { ConversationRecord } from './types.ts';

/**
 * What a sink receives: the record with its personal fields reduced, plus the export stamp when it came from one.
 * A shredded field holds a reference (`shr:v2#<n>`) to the n-th value of `shredded`, the record's shredded values
 * sealed together (one seal per record and sink, not one per field: a seal costs ~5.6 µs whatever its size).
 */
export interface SinkRecord extends ConversationRecord {
  exportJobId: string | null;
  exportVersion: number | null;
  shredded: string | null;
}

/** The reference a shredded field holds: the index of its value in the record's sealed `shredded` list. */
export const SHRED_REF_PREFIX = 'shr:v2#';
/** How every shredded form begins (references, and fields sealed on their own): what a reader decrypts. */
const SHREDDED_LOOKALIKE = 'shr:';

/** Keyed transforms supplied by an adapter (HMAC pseudonyms, authenticated encryption): the domain holds no keys. */
export interface FieldTransforms {
  pseudonymize(value: string): string;
  encrypt(value: string, customerId: string | null): string;
  /** Seals a record's shredded values together under the customer's data key for the sink's purpose (the enforcement binds it per record). */
  shred(values: string[]): string;
}

function transform(action: Exclude<FieldAction, 'shred'>, value: string, t: FieldTransforms, customerId: string | null): string | null {
  switch (action) {
    case 'keep':
      return value;
    case 'drop':
      return null;
    case 'pseudonymize':
      return t.pseudonymize(value);
    case 'encrypt':
      return t.encrypt(value, customerId);
  }
}

/**
 * Applies a sink's field rules; a dropped field becomes null (a dropped `attributes` map becomes empty), and the
 * values of shredded fields are sealed together into `shredded`, each field holding its reference. In a sink that
 * shreds, a kept value beginning `shr:` is sealed too (see apply).
 */
export function reduceForSink(record: SinkRecord, sink: SinkPolicy, t: FieldTransforms): SinkRecord {
  const action = (f: PersonalField): FieldAction => sink.fields[f] ?? sink.defaultAction;
  const shredded: string[] = [];
  const apply = (f: PersonalField, v: string | null): string | null => {
    if (v === null) return null;
    const a = action(f);
    // A kept value that a reader would take for a shredded one (a caller can say `shr:v2#0` into a transcript) is
    // sealed like one where the sink shreds: decrypted, it reads back as itself, not as another field's value.
    const seal = a === 'shred' || (a === 'keep' && v.startsWith(SHREDDED_LOOKALIKE) && shreds(sink));
    if (!seal) return transform(a, v, t, record.customerId);
    shredded.push(v);
    return SHRED_REF_PREFIX + (shredded.length - 1);
  };
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
    shredded: shredded.length ? t.shred(shredded) : null,
  };
}
