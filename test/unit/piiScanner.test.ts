import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  PII_KINDS,
  cardBrand,
  cardNumberValid,
  emailValid,
  ibanChecksumValid,
  ibanValid,
  luhnValid,
  maskCard,
  maskEmail,
  maskIban,
  maskPhone,
  maskSsn,
  scanText,
  scanValue,
  ssnValid,
  summarize,
  type PiiKind,
} from '../../src/domain/piiScanner.ts';

interface Sample {
  text: string;
  expected: { kind: PiiKind; value: string }[];
}
const samples: Sample[] = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/pii-samples.json'), 'utf8'));

/** The fixture's comparison key: spaces and dashes stripped, lower-cased. */
const norm = (s: string) => s.replace(/[\s-]/g, '').toLowerCase();

describe('validators', () => {
  it('Luhn', () => {
    const table: [string, boolean][] = [
      ['4111111111111111', true],
      ['5555555555554444', true],
      ['378282246310005', true],
      ['6011111111111117', true],
      ['4111111111111112', false],
      ['5555555555554445', false],
      ['0', true],
      ['18', true],
      ['4111 1111 1111 1111', false], // digits only: the caller normalises
    ];
    for (const [digits, ok] of table) assert.equal(luhnValid(digits), ok, digits);
  });

  it('card numbers: Luhn plus no placeholder, brands by IIN and length', () => {
    assert.equal(cardNumberValid('4111111111111111'), true);
    assert.equal(cardNumberValid('0000000000000000'), false, 'one digit repeated passes Luhn but is a placeholder');
    assert.equal(cardNumberValid('1234567890123452'), false, 'sequential');
    assert.equal(cardNumberValid('4111111111111111111111'), false, 'too long');
    assert.equal(cardNumberValid('411111111111'), false, 'too short');
    const brands: [string, string | null][] = [
      ['4111111111111111', 'VISA'],
      ['4222222222222', 'VISA'],
      ['5555555555554444', 'MASTERCARD'],
      ['2223003122003222', 'MASTERCARD'],
      ['378282246310005', 'AMEX'],
      ['6011111111111117', 'DISCOVER'],
      ['30569309025904', 'DINERS'],
      ['3530111333300000', 'JCB'],
      ['37828224631000', null], // Amex prefix, wrong length
      ['9400100000000000', null],
    ];
    for (const [digits, brand] of brands) assert.equal(cardBrand(digits), brand, digits);
  });

  it('IBAN mod-97 and country lengths', () => {
    const table: [string, boolean][] = [
      ['DE89370400440532013000', true],
      ['GB82 WEST 1234 5698 7654 32', true],
      ['fr1420041010050500013m02606', true],
      ['NL91ABNA0417164300', true],
      ['BE68539007547034', true],
      ['CH9300762011623852957', true],
      ['DE89370400440532013001', false], // checksum
      ['GB82WEST12345698765433', false],
      ['DE8937040044053201300', false], // length (DE is 22)
      ['XX89370400440532013000', false], // unknown country
    ];
    for (const [iban, ok] of table) assert.equal(ibanValid(iban), ok, iban);
    assert.equal(ibanChecksumValid('DE89370400440532013000'), true);
    assert.equal(ibanChecksumValid('DE98370400440532013000'), false, 'swapped check digits');
  });

  it('SSN allocation rules', () => {
    const table: [string, boolean][] = [
      ['812-34-5671', true],
      ['779521043', true],
      ['801 44 9012', true],
      ['000-12-3456', false], // area 000
      ['666-12-3456', false], // area 666
      ['900-12-3456', false], // area 900–999
      ['999-12-3456', false],
      ['123-00-4567', false], // group 00
      ['123-45-0000', false], // serial 0000
      ['078-05-1120', false], // the Woolworth wallet card
      ['219-09-9999', false], // SSA advertising
      ['111-11-1111', false], // one digit repeated
      ['12-345-6789', false],
    ];
    for (const [ssn, ok] of table) assert.equal(ssnValid(ssn), ok, ssn);
  });

  it('email shape', () => {
    const table: [string, boolean][] = [
      ['jane.doe@example.com', true],
      ['j.smith+billing@mail.example.co.uk', true],
      ['user@localhost', false],
      ['logo@2x.png', false],
      ['icon@1.5x.webp', false],
      ['a..b@example.com', false],
      ['jane@example.c', false],
    ];
    for (const [address, ok] of table) assert.equal(emailValid(address), ok, address);
  });

  it('masks never contain the raw value', () => {
    const cases: [string, string, (raw: string) => string][] = [
      ['4111111111111111', '4111 **** **** 1111', maskCard],
      ['378282246310005', '3782 **** *** 0005', maskCard],
      ['DE89370400440532013000', 'DE89 **** **** **** ** 3000', maskIban],
      ['jane.doe@example.com', 'j***@example.com', maskEmail],
      ['(212) 555-0147', '(***) ***-**47', maskPhone],
      ['+44 20 7946 0958', '+** ** **** **58', maskPhone],
      ['812-34-5671', '***-**-5671', maskSsn],
    ];
    for (const [raw, expected, mask] of cases) {
      const masked = mask(raw);
      assert.equal(masked, expected);
      assert.ok(!norm(masked).includes(norm(raw)), `${masked} reveals ${raw}`);
    }
    for (const s of samples) {
      for (const f of scanText(s.text)) {
        const raw = s.text.slice(f.start, f.end);
        assert.ok(!norm(f.masked).includes(norm(raw)), `${f.masked} reveals ${raw}`);
        assert.ok(!f.masked.includes(raw.replace(/\D/g, '')) || f.kind === 'EMAIL', `${f.masked} holds the digits of ${raw}`);
      }
    }
  });
});

describe('scanText', () => {
  it('context words raise confidence and identifier labels lower it', () => {
    const [bare] = scanText('4111 1111 1111 1111');
    const [ctx] = scanText('my visa card 4111 1111 1111 1111');
    assert.ok(bare && ctx && ctx.confidence > bare.confidence);
    assert.deepEqual(ctx.context, ['card', 'visa']);
    assert.deepEqual(scanText('order #4111 1111 1111 1111'), []);
    assert.equal(scanText('order #4111 1111 1111 1111', { minConfidence: 0 })[0]?.kind, 'CARD_NUMBER');
  });

  it('bare nine digits are an SSN only next to a context word', () => {
    assert.deepEqual(scanText('id 779521043'), []);
    assert.equal(scanText('SSN: 779521043')[0]?.kind, 'US_SSN');
  });

  it('findings do not overlap and come in order of position', () => {
    const text = 'IBAN DE89 3704 0044 0532 0130 00, call +44 20 7946 0958, visa 4111-1111-1111-1111, jane@example.com';
    const found = scanText(text);
    assert.deepEqual(found.map((f) => f.kind), ['IBAN', 'PHONE', 'CARD_NUMBER', 'EMAIL']);
    for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.end <= found[i]!.start);
  });

  it('a card is cut out of a run of digit groups (leading quantity, trailing expiry)', () => {
    const text = 'qty 2 4111 1111 1111 1111 12 27';
    assert.deepEqual(scanText(text).map((f) => text.slice(f.start, f.end)), ['4111 1111 1111 1111']);
  });

  it('a card is not also reported as a phone', () => {
    assert.deepEqual(scanText('call 4111 1111 1111 1111', { minConfidence: 0 }).map((f) => f.kind), ['CARD_NUMBER']);
  });
});

describe('scanValue', () => {
  it('walks nested JSON and reports JSON paths', () => {
    const payload = {
      id: '550e8400-e29b-41d4-a716-446655440000',
      participants: [
        { purpose: 'agent', notes: 'no issues' },
        { purpose: 'customer', notes: 'card 4111 1111 1111 1111', 'e-mail': 'jane@example.com' },
      ],
      transcript: { turns: ['hello', 'call me on 020 7946 0958'] },
      count: 4111111111111111,
    };
    const found = scanValue(payload).map((f) => [f.path, f.kind, f.masked]);
    assert.deepEqual(found, [
      ['$.participants[1].notes', 'CARD_NUMBER', '4111 **** **** 1111'],
      ['$.participants[1]["e-mail"]', 'EMAIL', 'j***@example.com'],
      ['$.transcript.turns[1]', 'PHONE', '*** **** **58'],
    ]);
    assert.deepEqual(summarize(scanValue(payload)), { CARD_NUMBER: 1, IBAN: 0, EMAIL: 1, PHONE: 1, US_SSN: 0 });
    assert.deepEqual(scanValue('SSN 812-34-5671').map((f) => f.path), ['$']);
  });
});

describe('precision and recall over the labelled samples', () => {
  it('every expected value is in its text (the fixture is well-formed)', () => {
    assert.ok(samples.length >= 80);
    for (const s of samples) for (const e of s.expected) assert.ok(s.text.includes(e.value), `${e.value} not in ${s.text}`);
  });

  it('meets the precision and recall floors', () => {
    const tally = Object.fromEntries(PII_KINDS.map((k) => [k, { tp: 0, fp: 0, fn: 0 }])) as Record<PiiKind, { tp: number; fp: number; fn: number }>;
    const misses: string[] = [];
    for (const s of samples) {
      const open = s.expected.map((e) => ({ kind: e.kind, value: norm(e.value) }));
      for (const f of scanText(s.text)) {
        const value = norm(s.text.slice(f.start, f.end));
        const i = open.findIndex((e) => e.kind === f.kind && e.value === value);
        if (i >= 0) {
          tally[f.kind].tp++;
          open.splice(i, 1);
        } else {
          tally[f.kind].fp++;
          misses.push(`FP ${f.kind} "${s.text.slice(f.start, f.end)}" in: ${s.text}`);
        }
      }
      for (const e of open) {
        tally[e.kind].fn++;
        misses.push(`FN ${e.kind} "${e.value}" in: ${s.text}`);
      }
    }
    const ratio = (n: number, d: number) => (d === 0 ? 1 : n / d);
    const rows = PII_KINDS.map((k) => {
      const { tp, fp, fn } = tally[k];
      return { kind: k, tp, fp, fn, precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn) };
    });
    const all = rows.reduce((a, r) => ({ tp: a.tp + r.tp, fp: a.fp + r.fp, fn: a.fn + r.fn }), { tp: 0, fp: 0, fn: 0 });
    const overall = { kind: 'ALL', ...all, precision: ratio(all.tp, all.tp + all.fp), recall: ratio(all.tp, all.tp + all.fn) };
    console.log(`PII scanner over ${samples.length} samples (${samples.filter((s) => s.expected.length === 0).length} without PII):`);
    console.log(['kind'.padEnd(12), ' tp', ' fp', ' fn', 'precision', 'recall'].join('  '));
    for (const r of [...rows, overall]) {
      console.log([r.kind.padEnd(12), String(r.tp).padStart(3), String(r.fp).padStart(3), String(r.fn).padStart(3), r.precision.toFixed(3).padStart(9), r.recall.toFixed(3).padStart(6)].join('  '));
    }
    for (const m of misses) console.log(`  ${m}`);
    assert.ok(overall.precision >= 0.95, `overall precision ${overall.precision}`);
    assert.ok(overall.recall >= 0.9, `overall recall ${overall.recall}`);
    for (const r of rows) assert.ok(r.precision >= 0.9, `${r.kind} precision ${r.precision}`);
  });
});
