import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import avro from 'avsc';
import { describe, it } from 'node:test';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import { consentStateCodec } from '../../src/domain/consentStateCodec.ts';
import { CHANNELS, COMPLIANCE_STATUSES, CONSENT_SOURCES, PURPOSES, type ConsentEvent, type ConsentState } from '../../src/domain/types.ts';
import { mulberry32 } from '../../src/simulator/ids.ts';
import { PROJECT_ROOT } from '../../src/paths.ts';

/** The states a random history of consent events gives `customers` customers, each under the key it is stored by. */
function* randomStates(seed: number, customers: number): Generator<{ key: string; state: ConsentState }> {
  const next = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const eventIds = [() => randomUUID(), () => randomUUID().toUpperCase(), () => `evt-${Math.floor(next() * 1e6)}`, () => 'ünïcödé-😀', () => '', () => 'ü'.repeat(36)];
  for (let customer = 0; customer < customers; customer++) {
    const customerId = customer % 50 === 0 ? `kunde-${customer}-ü` : randomUUID();
    let state: ConsentState | undefined;
    for (let e = 0; e < 1 + Math.floor(next() * 8); e++) {
      const event: ConsentEvent = {
        eventId: pick(eventIds)(),
        customerId,
        capturedAt: Math.floor(next() * 4e12) - 1e11, // before 1970 too
        source: pick(CONSENT_SOURCES),
        purposes: Array.from({ length: 1 + Math.floor(next() * 4) }, () => ({ purpose: pick(PURPOSES), granted: next() < 0.5, channel: next() < 0.4 ? pick(CHANNELS) : null })),
      };
      state = applyConsentEvent(state, event, 1_700_000_000_000 + Math.floor(next() * 1e9)).state ?? state;
      if (!state) continue;
      yield { key: customer % 7 === 0 ? `other-${customer}` : customerId, state }; // the codec must not assume key = customerId
    }
  }
}

/** The symbols of the enum `name` in an Avro schema. */
function findEnum(schema: unknown, name: string): string[] | undefined {
  if (Array.isArray(schema)) return schema.map((s) => findEnum(s, name)).find(Boolean);
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as Record<string, unknown>;
  if (s.type === 'enum' && s.name === name) return s.symbols as string[];
  return [s.type, s.items, ...((s.fields as { type: unknown }[] | undefined) ?? []).map((f) => f.type)].map((t) => findEnum(t, name)).find(Boolean);
}

describe('consentStateCodec', () => {
  it('round-trips every state that a random history of consent events produces', () => {
    for (const { key, state } of randomStates(11, 500)) assert.deepEqual(consentStateCodec.decode(key, consentStateCodec.encode(key, state)), JSON.parse(JSON.stringify(state)));
  });

  it('takes about fifty bytes (Avro: ~165) for a customer whose purposes one event set', () => {
    const customerId = randomUUID();
    const { state } = applyConsentEvent(undefined, {
      eventId: randomUUID(), customerId, capturedAt: 1_790_000_000_000, source: 'WEB',
      purposes: PURPOSES.map((purpose) => ({ purpose, granted: true, channel: null })),
    }, 1_790_000_000_500);
    const bytes = consentStateCodec.encode(customerId, state!);
    assert.ok(bytes.length <= 56, `${bytes.length} bytes`);
    assert.deepEqual(consentStateCodec.decode(customerId, bytes), state);
  });

  it('refuses bytes that are not an encoded state', () => {
    assert.throws(() => consentStateCodec.decode('c', new Uint8Array([9, 0])), /not an encoded consent state/);
    assert.throws(() => consentStateCodec.decode('c', new Uint8Array([1, 0])), /truncated/);
  });
});

describe('consentStateCodec.fromAvro', () => {
  const schema = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'schemas/ConsentState.avsc'), 'utf8'));
  const type = avro.Type.forSchema(schema);

  it('numbers the enums as ConsentState.avsc does', () => {
    const symbols = (name: string) => findEnum(schema, name);
    assert.deepEqual(symbols('Purpose'), [...PURPOSES]);
    assert.deepEqual(symbols('Channel'), [...CHANNELS]);
    assert.deepEqual(symbols('ConsentSource'), [...CONSENT_SOURCES]);
    assert.deepEqual(symbols('ComplianceStatus'), [...COMPLIANCE_STATUSES]);
  });

  it('gives the bytes of encode for the Avro of every state a random history produces', () => {
    let n = 0;
    for (const { key, state } of randomStates(12, 300)) {
      const body = type.toBuffer(state);
      assert.deepEqual(Buffer.from(consentStateCodec.fromAvro(key, body)), Buffer.from(consentStateCodec.encode(key, state)));
      n++;
    }
    assert.ok(n > 500, `${n} states`);
  });

  it('reads array blocks written with a negative count and their byte size, as other Avro writers may', () => {
    const { key, state } = [...randomStates(14, 200)].find(({ state }) => state.purposes.length >= 2 && state.purposes.some((p) => p.channels.length > 0))!;
    const purposeType = (type as avro.types.RecordType).field('purposes')!.type as avro.types.ArrayType;
    const items = state.purposes.map((p) => purposeType.itemsType.toBuffer(p));
    const zigzag = (n: number) => avro.Type.forSchema('long').toBuffer(n);
    const whole = type.toBuffer(state);
    const head = avro.Type.forSchema('string').toBuffer(state.customerId);
    const tail = type.toBuffer({ ...state, purposes: [] }).subarray(head.length + 1); // past customerId and the empty array
    // the first purpose in a block of its own, with a negative count and its size; the others in a second block
    const rest = Buffer.concat(items.slice(1));
    const body = Buffer.concat([head, zigzag(-1), zigzag(items[0]!.length), items[0]!, zigzag(items.length - 1), rest, zigzag(0), tail]);
    assert.deepEqual(type.fromBuffer(body), type.fromBuffer(whole));
    assert.deepEqual(Buffer.from(consentStateCodec.fromAvro(key, body)), Buffer.from(consentStateCodec.encode(key, state)));
  });

  it('refuses a truncated body and an enum index out of range', () => {
    const { key, state } = randomStates(13, 1).next().value!;
    const body = type.toBuffer(state);
    assert.throws(() => consentStateCodec.fromAvro(key, body.subarray(0, body.length - 1)), /truncated/);
    const bad = type.toBuffer({ ...state, customerId: 'c', purposes: [], complianceStatus: 'FULLY_OPTED_OUT' });
    // customerId (length 1, 'c'), an empty purposes array, then complianceStatus: index 2, zigzag 4
    assert.equal(bad[3], 4);
    bad[3] = 14; // index 7 of 3
    assert.throws(() => consentStateCodec.fromAvro(key, bad), /index 7 out of range/);
  });
});
