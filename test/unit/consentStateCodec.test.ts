import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import { consentStateCodec } from '../../src/domain/consentStateCodec.ts';
import { CHANNELS, CONSENT_SOURCES, PURPOSES, type ConsentEvent, type ConsentState } from '../../src/domain/types.ts';
import { mulberry32 } from '../../src/simulator/ids.ts';

describe('consentStateCodec', () => {
  it('round-trips every state that a random history of consent events produces', () => {
    const next = mulberry32(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
    const eventIds = [() => randomUUID(), () => randomUUID().toUpperCase(), () => `evt-${Math.floor(next() * 1e6)}`, () => 'ünïcödé-😀', () => ''];
    for (let customer = 0; customer < 500; customer++) {
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
        const key = customer % 7 === 0 ? `other-${customer}` : customerId; // the codec must not assume key = customerId
        const bytes = consentStateCodec.encode(key, state);
        assert.deepEqual(consentStateCodec.decode(key, bytes), JSON.parse(JSON.stringify(state)));
      }
    }
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
