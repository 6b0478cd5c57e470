/**
 * Content scanning for the automated DPIA: finds personal data inside free text (transcripts, notes, JSON payload
 * samples) so that a finding raises the risk even when no field is named as PII.
 *
 * Every kind is a candidate pattern plus a validity check (Luhn, ISO 7064 mod-97, SSA allocation rules, E.164 and
 * national numbering shapes), then a confidence: a base set by how strong the validator is, raised by context words
 * shortly before the candidate and lowered when the candidate is introduced as an identifier ("order #", "ticket").
 * Findings never carry the raw value, only a masked form. Pure: no I/O, no clock.
 */

export const PII_KINDS = ['CARD_NUMBER', 'IBAN', 'EMAIL', 'PHONE', 'US_SSN'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

export interface PiiFinding {
  kind: PiiKind;
  /** Offsets in the scanned string: `text.slice(start, end)` is the matched value. */
  start: number;
  end: number;
  /** 0..1; the base reflects the validator's strength, context words raise it, identifier prefixes lower it. */
  confidence: number;
  /** Never the raw value: e.g. `4111 **** **** 1111`, `j***@example.com`, `***-**-6789`. */
  masked: string;
  /** Context words found shortly before the value (e.g. `card`, `iban`, `call me`). */
  context: string[];
}

export interface ScanOptions {
  /** Findings below this are dropped; default 0.5. */
  minConfidence?: number;
}

const DEFAULT_MIN_CONFIDENCE = 0.5;
/** How far before a candidate context words count (characters). */
const CONTEXT_WINDOW = 40;
/** Confidence a candidate that needs context is capped at when it has none: below the default threshold. */
const NO_CONTEXT_CAP = 0.3;
/** When two candidates overlap at equal confidence, the stronger validator wins (a card is not also a phone). */
const KIND_PRIORITY: Record<PiiKind, number> = { IBAN: 0, CARD_NUMBER: 1, US_SSN: 2, EMAIL: 3, PHONE: 4 };

// ---------------------------------------------------------------------------------------------------------------
// Validators

/** Luhn (mod 10) check over a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** IBAN lengths by country (SWIFT IBAN registry); a country not listed is not accepted. */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28,
  CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18,
  GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32,
  LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24,
  PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28,
  TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** ISO 7064 mod-97-10 over an IBAN (spaces and case ignored): the rearranged number mod 97 must be 1. */
export function ibanChecksumValid(iban: string): boolean {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  // Digit by digit (letters as two digits, A=10) so the remainder stays a small number.
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

/** A full IBAN check: known country, that country's length, and the mod-97 checksum. */
export function ibanValid(iban: string): boolean {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  const len = IBAN_LENGTHS[s.slice(0, 2)];
  return len !== undefined && s.length === len && ibanChecksumValid(s);
}

/** Numbers the SSA never issues or that are burned by publication (advertising, wallet inserts, placeholders). */
const SSN_DENYLIST = new Set(['078051120', '219099999', '123456789']);

/**
 * SSA allocation rules for `AAA-GG-SSSS` (dashes, spaces or none): area not 000, 666 or 900–999; group not 00;
 * serial not 0000; not a known published number; not a single repeated digit.
 */
export function ssnValid(ssn: string): boolean {
  const d = ssn.replace(/[\s-]/g, '');
  if (!/^\d{9}$/.test(d)) return false;
  const area = Number(d.slice(0, 3));
  if (area === 0 || area === 666 || area >= 900) return false;
  if (d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  return !SSN_DENYLIST.has(d) && !allSameDigit(d);
}

type CardBrand = 'VISA' | 'MASTERCARD' | 'AMEX' | 'DISCOVER' | 'DINERS' | 'JCB' | 'UNIONPAY' | 'MAESTRO' | 'MIR';

/** Issuer ranges (IIN prefixes) and the lengths each brand issues. */
const CARD_BRANDS: { brand: CardBrand; prefix: RegExp; lengths: number[] }[] = [
  { brand: 'VISA', prefix: /^4/, lengths: [13, 16, 19] },
  { brand: 'MASTERCARD', prefix: /^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] },
  { brand: 'AMEX', prefix: /^3[47]/, lengths: [15] },
  { brand: 'DISCOVER', prefix: /^(6011|64[4-9]|65)/, lengths: [16, 17, 18, 19] },
  { brand: 'DINERS', prefix: /^(30[0-5]|3095|36|3[89])/, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'JCB', prefix: /^35(2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] },
  { brand: 'UNIONPAY', prefix: /^62/, lengths: [16, 17, 18, 19] },
  { brand: 'MAESTRO', prefix: /^(5018|5020|5038|5893|6304|6759|676[1-3])/, lengths: [13, 14, 15, 16, 17, 18, 19] },
  { brand: 'MIR', prefix: /^220[0-4]/, lengths: [16, 17, 18, 19] },
];

/** The brand whose IIN prefix and issued lengths fit these digits, or null. */
export function cardBrand(digits: string): CardBrand | null {
  const b = CARD_BRANDS.find((c) => c.prefix.test(digits) && c.lengths.includes(digits.length));
  return b ? b.brand : null;
}

function allSameDigit(d: string): boolean {
  return /^(\d)\1*$/.test(d);
}

/** Every step +1 (or every step −1), wrapping 9→0: `123456789012`, `987654321098`. */
function sequential(d: string): boolean {
  const steps = new Set<number>();
  for (let i = 1; i < d.length; i++) steps.add((d.charCodeAt(i) - d.charCodeAt(i - 1) + 10) % 10);
  return steps.size === 1 && (steps.has(1) || steps.has(9));
}

/**
 * A plausible card number: 13–19 digits, Luhn, and not a placeholder made of one digit or a run. The placeholder
 * test looks at the digits before the check digit, since a made-up `1234 5678 9012 3452` is fixed up to pass Luhn.
 */
export function cardNumberValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits) || !luhnValid(digits)) return false;
  const body = digits.slice(0, -1);
  return !allSameDigit(body) && !sequential(body);
}

/** File extensions that look like top-level domains in `logo@2x.png`-style asset names. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'bmp', 'ico', 'tif', 'tiff', 'heic', 'avif', 'pdf', 'txt', 'csv',
  'json', 'xml', 'yaml', 'yml', 'html', 'htm', 'css', 'js', 'ts', 'mjs', 'map', 'woff', 'woff2', 'ttf', 'mp3',
  'mp4', 'wav', 'ogg', 'webm', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'log', 'gz', 'tgz', 'bak', 'tmp',
]);

/**
 * A practical RFC 5322 subset: dot-atom local part of letters, digits and `_%+-`; a domain of at least two
 * DNS labels whose last is 2+ letters. Asset names (`logo@2x.png`) and dotless hosts (`user@localhost`) fail.
 */
export function emailValid(address: string): boolean {
  const m = /^([A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))$/.exec(address);
  if (!m || m[1]!.length > 64) return false;
  // A number as the user part (`sip:+12125550147@sbc…`, SMS gateways) is a phone address, reported as PHONE.
  if (/^\+?\d{7,}$/.test(m[1]!)) return false;
  const domain = m[2]!;
  const tld = m[3]!.toLowerCase();
  if (FILE_EXTENSIONS.has(tld)) return false;
  // Retina/density suffixes (`@2x`, `@1.5x`) are asset names, whatever follows.
  return !/^\d+(?:\.\d+)?x\./i.test(domain);
}

// ---------------------------------------------------------------------------------------------------------------
// Masking: keep just enough to recognise the value in a review, never enough to reconstruct it.

function groupsOf4(s: string): string {
  return s.match(/.{1,4}/g)?.join(' ') ?? '';
}

/** First four and last four digits, the rest starred in groups of four: `4111 **** **** 1111`. */
export function maskCard(digits: string): string {
  return `${digits.slice(0, 4)} ${groupsOf4('*'.repeat(digits.length - 8))} ${digits.slice(-4)}`;
}

/** Country and check digits, then the last four: `DE89 **** **** **** ** 3000`. */
export function maskIban(iban: string): string {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  return `${s.slice(0, 4)} ${groupsOf4('*'.repeat(s.length - 8))} ${s.slice(-4)}`;
}

/** First character of the local part, the whole domain: `j***@example.com`. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  return `${address.slice(0, 1)}***${address.slice(at)}`;
}

/** Every digit but the last two starred, punctuation kept: `+44 ** **** **58`. */
export function maskPhone(raw: string): string {
  const total = raw.replace(/\D/g, '').length;
  let seen = 0;
  return raw.replace(/\d/g, (d) => (++seen > total - 2 ? d : '*'));
}

/** Area and group starred, serial kept: `***-**-6789`. */
export function maskSsn(raw: string): string {
  return `***-**-${raw.replace(/\D/g, '').slice(-4)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Context

const CONTEXT_WORDS: Record<PiiKind, readonly string[]> = {
  CARD_NUMBER: ['card', 'credit', 'debit', 'visa', 'mastercard', 'master card', 'amex', 'american express',
    'discover', 'diners', 'jcb', 'cvv', 'cvc', 'cv2', 'expiry', 'exp', 'expires', 'pan', 'cc', 'payment', 'pay'],
  IBAN: ['iban', 'account', 'acct', 'bank', 'sepa', 'transfer', 'bic', 'swift', 'refund to', 'direct debit'],
  EMAIL: ['email', 'e-mail', 'mail', 'contact', 'reach me', 'write to'],
  PHONE: ['call', 'call me', 'phone', 'mobile', 'cell', 'tel', 'telephone', 'reach me', 'contact', 'number',
    'whatsapp', 'sms', 'text me', 'ring', 'callback', 'call back', 'landline', 'dial', 'fax'],
  US_SSN: ['ssn', 'social security', 'soc sec', 'ss#', 'ss no', 'itin', 'tin', 'taxpayer'],
};

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const CONTEXT_RES: Record<PiiKind, { word: string; re: RegExp }[]> = Object.fromEntries(
  PII_KINDS.map((k) => [k, CONTEXT_WORDS[k].map((word) => ({ word, re: new RegExp(`(?<![a-z0-9])${escapeRe(word)}(?![a-z0-9])`) }))]),
) as Record<PiiKind, { word: string; re: RegExp }[]>;

/** Context words of the kind within CONTEXT_WINDOW characters before `start`; a phrase hides the words inside it. */
function contextBefore(text: string, start: number, kind: PiiKind): string[] {
  const window = text.slice(Math.max(0, start - CONTEXT_WINDOW), start).toLowerCase();
  const hits = CONTEXT_RES[kind].filter(({ re }) => re.test(window)).map(({ word }) => word);
  return hits.filter((w) => !hits.some((o) => o !== w && o.includes(w)));
}

/**
 * Identifier labels: right before a value ("order #", "ticket no.", "ref:", "ISBN") they say the digits name a
 * record, not a person, whatever their shape. Only filler (punctuation, `no`, `number`, `id`, `is`) may sit between.
 * "Account" labels phone- and SSN-shaped account numbers, but card holders call their card number an account number.
 */
const ID_LABELS = [
  'order', 'ord', 'ticket', 'tkt', 'ref', 'reference', 'invoice', 'inv', 'tracking', 'track', 'case', 'po', 'sku',
  'isbn', 'isbn-10', 'isbn-13', 'serial', 's/n', 'confirmation', 'conf', 'booking', 'transaction', 'txn',
  'reservation', 'shipment', 'parcel', 'awb', 'imei', 'claim', 'policy', 'routing', 'sort code', 'part', 'model',
  'build', 'version', 'ver', 'pnr',
];
const idLabelRe = (labels: string[]) =>
  new RegExp(`(?<![a-z0-9])(?:${labels.map(escapeRe).join('|')})(?:[\\s:#.=-]|no\\b|nr\\b|num\\b|number\\b|id\\b|code\\b|is\\b|was\\b)*$`);
const ID_LABEL_RES: Partial<Record<PiiKind, RegExp>> = {
  CARD_NUMBER: idLabelRe(ID_LABELS),
  PHONE: idLabelRe([...ID_LABELS, 'account', 'acct']),
  US_SSN: idLabelRe([...ID_LABELS, 'account', 'acct']),
};

function idLabelBefore(text: string, start: number, kind: PiiKind): boolean {
  const re = ID_LABEL_RES[kind];
  return re !== undefined && re.test(text.slice(Math.max(0, start - CONTEXT_WINDOW), start).toLowerCase());
}

interface Scored {
  base: number;
  /** Shape alone is too weak (bare digit strings): without a context word the confidence stays below threshold. */
  needsContext?: boolean;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function finding(text: string, kind: PiiKind, start: number, end: number, s: Scored, masked: string): PiiFinding {
  const context = contextBefore(text, start, kind);
  let c = s.needsContext && context.length === 0 ? Math.min(s.base, NO_CONTEXT_CAP) : s.base;
  if (context.length > 0) c += 0.2 + 0.05 * Math.min(context.length - 1, 2);
  if (idLabelBefore(text, start, kind)) c -= 0.5;
  return { kind, start, end, confidence: round2(Math.min(0.99, Math.max(0, c))), masked, context };
}

// ---------------------------------------------------------------------------------------------------------------
// Detectors: each returns every validated candidate with its confidence; thresholds and overlaps come later.

const isWordChar = (ch: string | undefined) => ch !== undefined && /[A-Za-z0-9_]/.test(ch);
/** A decimal or thousands continuation (`1.5`, `1,000`): the digits are part of an amount. */
const decimalAfter = (text: string, end: number) => /^[.,]\d/.test(text.slice(end, end + 2));

interface DigitGroup {
  digits: string;
  start: number;
  end: number;
}

function digitGroups(text: string, from: number, to: number): DigitGroup[] {
  const out: DigitGroup[] = [];
  for (const m of text.slice(from, to).matchAll(/\d+/g)) out.push({ digits: m[0], start: from + m.index, end: from + m.index + m[0].length });
  return out;
}

/** Card layouts: one block, groups of four (the last may be short), Amex 4-6-5, Diners 4-6-4. */
function cardLayoutOk(lens: number[]): boolean {
  if (lens.length === 1) return true;
  const key = lens.join('-');
  if (key === '4-6-5' || key === '4-6-4') return true;
  return lens.slice(0, -1).every((l) => l === 4) && lens[lens.length - 1]! >= 1 && lens[lens.length - 1]! <= 4;
}

/**
 * Card numbers: maximal runs of digits joined by single spaces or dashes, not glued to a longer token. Within a
 * run, windows of whole groups are tried (trailing expiry or CVV digits, a leading quantity), and the best window
 * wins: a known issuer with a length it issues, then a canonical layout, then length.
 */
function findCards(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(/\d+(?:[ -]\d+)*/g)) {
    const start = m.index;
    const end = start + m[0].length;
    const before = text[start - 1];
    if (isWordChar(before) || (before !== undefined && /[+\-.,/$€£@]/.test(before))) continue;
    if (isWordChar(text[end]) || text[end] === '@' || decimalAfter(text, end)) continue;
    const groups = digitGroups(text, start, end);
    const firstStarts = [0];
    // A short leading group separated by a space is a quantity or a list number, not part of the card.
    if (groups.length > 1 && groups[0]!.digits.length <= 3 && text[groups[0]!.end] === ' ') firstStarts.push(1);
    let best: { i: number; j: number; rank: number[] } | null = null;
    for (const i of firstStarts) {
      // Windows grow from i until they pass 19 digits, so a long run of digit groups costs linear time.
      let digits = '';
      for (let j = i; j < groups.length && digits.length + groups[j]!.digits.length <= 19; j++) {
        digits += groups[j]!.digits;
        const win = groups.slice(i, j + 1);
        if (!cardNumberValid(digits) || !cardLayoutOk(win.map((g) => g.digits.length))) continue;
        const seps = new Set(win.slice(1).map((g) => text[g.start - 1]));
        if (seps.size > 1) continue;
        const lens = win.map((g) => g.digits.length).join('-');
        const canonical = win.length === 1 || lens === '4-4-4-4' || lens === '4-6-5' || lens === '4-6-4';
        const rank = [cardBrand(digits) ? 1 : 0, canonical ? 1 : 0, i === 0 ? 1 : 0, digits.length];
        if (!best || compareRank(rank, best.rank) > 0) best = { i, j, rank };
      }
    }
    if (!best) continue;
    const s = groups[best.i]!.start;
    const e = groups[best.j]!.end;
    const digits = text.slice(s, e).replace(/\D/g, '');
    out.push(finding(text, 'CARD_NUMBER', s, e, { base: best.rank[0] ? 0.75 : 0.35 }, maskCard(digits)));
  }
  return out;
}

function compareRank(a: number[], b: number[]): number {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return 0;
}

/**
 * IBANs: a country code and two check digits at a token start, then alphanumeric blocks joined by single spaces
 * (compact, groups of four, or a mix), cut at the country's length; mod-97 must hold. Case is ignored.
 */
function findIbans(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(/[A-Za-z]{2}\d{2}/g)) {
    const start = m.index;
    if (isWordChar(text[start - 1])) continue;
    const len = IBAN_LENGTHS[m[0].slice(0, 2).toUpperCase()];
    if (len === undefined) continue;
    let pos = start;
    let compact = '';
    for (;;) {
      const token = /^[A-Za-z0-9]+/.exec(text.slice(pos))![0];
      compact += token;
      const end = pos + token.length;
      if (compact.length >= len) {
        if (compact.length === len && ibanChecksumValid(compact) && !isWordChar(text[end])) {
          out.push(finding(text, 'IBAN', start, end, { base: 0.85 }, maskIban(compact)));
        }
        break;
      }
      if (text[end] !== ' ' || !isWordChar(text[end + 1])) break;
      pos = end + 1;
    }
  }
  return out;
}

/**
 * Emails, anchored on each `@` and read outwards with bounded lengths (local part ≤ 64, domain ≤ 253), so a long
 * run of address characters without an address costs linear time rather than a regex scan from every position.
 */
function findEmails(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    // The local part must start the token: nothing address-like may precede it.
    const local = /(?<![A-Za-z0-9_%+.-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*$/.exec(text.slice(Math.max(0, at - 64), at));
    const domain = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-]|\.[A-Za-z0-9])/.exec(text.slice(at + 1, at + 254));
    if (!local || !domain) continue;
    const start = at - local[0].length;
    // A 64-character local part may be the tail of a longer one.
    if (start > 0 && /[A-Za-z0-9_%+.-]/.test(text[start - 1]!)) continue;
    const address = `${local[0]}@${domain[0]}`;
    if (!emailValid(address)) continue;
    out.push(finding(text, 'EMAIL', start, at + 1 + domain[0].length, { base: 0.9 }, maskEmail(address)));
  }
  return out;
}

/**
 * US SSNs: `AAA-GG-SSSS` on its own stands (dashes are the SSA's printed layout); spaced or bare nine digits only
 * count next to a context word, because nine digits alone are as likely an account or a zip+4.
 */
function findSsns(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(/\d{3}([- ]?)\d{2}\1\d{4}/g)) {
    const start = m.index;
    const end = start + m[0].length;
    const before = text[start - 1];
    if (isWordChar(before) || (before !== undefined && /[+\-./$€£]/.test(before))) continue;
    if (isWordChar(text[end]) || text[end] === '-' || decimalAfter(text, end)) continue;
    if (!ssnValid(m[0])) continue;
    const dashed = m[1] === '-';
    out.push(finding(text, 'US_SSN', start, end, { base: dashed ? 0.6 : 0.5, needsContext: !dashed }, maskSsn(m[0])));
  }
  return out;
}

/**
 * Spans that are never phone numbers even though they are digits and separators: ISO timestamps and dates,
 * clock times, IPv4 addresses, dotted version numbers (but not the US `555.010.0123` layout), prices.
 */
const NOT_PHONE: RegExp[] = [
  /\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g,
  /(?<!\d)\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![-./]?\d)/g,
  /(?<!\d)\d{4}[/.]\d{1,2}[/.]\d{1,2}(?!\d)/g,
  /(?<!\d)\d{1,2}:\d{2}(?::\d{2})?/g,
  /(?<!\d)\d{1,3}(?:\.\d{1,3}){3}(?!\d)/g,
  /(?<![\d.])[vV]?\d+(?:\.\d+){2,}(?![\d.])/g,
  /[$€£¥]\s?\d[\d,. ]*/g,
];

function blankOut(text: string): string {
  let masked = text;
  for (const re of NOT_PHONE) {
    masked = masked.replace(re, (span) => (/^\d{3}\.\d{3}\.\d{4}$/.test(span) ? span : '_'.repeat(span.length)));
  }
  return masked;
}

/**
 * A phone number's shape from its digit groups. International (`+` or `00`): 8–15 digits, `+1` must be a full NANP
 * number. National: NANP `(AAA) EEE-LLLL` / `AAA-EEE-LLLL` / `1-AAA-EEE-LLLL` with area code 2–9, or a trunk-0
 * number (UK, EU) of 10–12 digits in groups of 2+. A single unbroken block needs a context word. Dots only in the
 * US 3-3-4 layout, since dotted digits are otherwise versions and addresses.
 */
function phoneShape(groups: string[], plus: boolean, dotted: boolean, parenArea: boolean): Scored | null {
  const digits = groups.join('');
  const lens = groups.map((g) => g.length);
  if (lens[lens.length - 1]! < 2) return null;
  const international = plus || (groups[0]!.startsWith('00') && groups[0]!.length <= 5 && groups.length > 1);
  if (international) {
    const n = plus ? digits : digits.slice(2);
    if (n.length < 8 || n.length > 15 || n[0] === '0') return null;
    if (n[0] === '1' && (n.length !== 11 || !/^1[2-9]/.test(n))) return null;
    if (dotted && groups.some((g) => g.length < 2)) return null;
    return { base: groups.length === 1 ? 0.6 : 0.7 };
  }
  const layout = lens.join('-');
  if (dotted && layout !== '3-3-4') return null;
  const nanp = digits.length === 11 && digits[0] === '1' ? digits.slice(1) : digits;
  if (nanp.length === 10 && /^[2-9]/.test(nanp) && (digits.length === 10 || digits[0] === '1')) {
    if (layout === '3-3-4' || layout === '1-3-3-4') return { base: parenArea ? 0.75 : 0.6 };
    if (layout === '10' || layout === '11') return { base: 0.45, needsContext: true };
  }
  if (/^0[1-9]/.test(digits) && digits.length >= 10 && digits.length <= 12) {
    if (groups.length === 1) return { base: 0.45, needsContext: true };
    if (lens.every((l) => l >= 2 && l <= 8)) return { base: 0.6 };
  }
  return null;
}

/**
 * Phone numbers: runs of digits joined by single spaces, dashes, dots or parentheses (optionally after `+`), on a
 * copy of the text where dates, times, addresses, versions and prices are blanked. Trailing groups are dropped
 * until the shape fits, so "555 010 0123 3 times" still yields the number.
 */
function findPhones(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  const masked = blankOut(text);
  const run = /\+?\s?\(?\d(?:\d|[ .-](?=[\d(])|\((?=\d)|\)(?=[ .-]?\d))*\)?/g;
  for (const m of masked.matchAll(run)) {
    let start = m.index;
    // A run may begin with the blank after '+' ("+ 44"); leading blanks are not part of it.
    while (masked[start] === ' ') start++;
    const runEnd = m.index + m[0].length;
    const before = masked[start - 1];
    if (isWordChar(before) || (before !== undefined && /[+\-./#$€£@%_]/.test(before))) continue;
    // '@' may follow: a number as the user part of a SIP or SMS address is still the phone number.
    if (isWordChar(masked[runEnd]) || (masked[runEnd] !== undefined && /[/%_]/.test(masked[runEnd]!)) || decimalAfter(masked, runEnd)) continue;
    const plus = masked[start] === '+';
    const groups = digitGroups(masked, start, runEnd);
    // No phone has more than 17 digits (15 after a `00` prefix): only prefixes up to that are worth trying.
    let last = -1;
    for (let n = 0; last + 1 < groups.length && n + groups[last + 1]!.digits.length <= 17; last++) n += groups[last + 1]!.digits.length;
    for (let j = last; j >= 0; j--) {
      const end = groups[j]!.end;
      // A parenthesis opened before the number and closed after it ("(212-555-0147)") wraps it, not its area code;
      // one closed inside it ("(+44) 20 …") belongs to the country code.
      let s = start;
      if (text[start] === '(' && !parensBalanced(text.slice(start, end))) s = start + 1;
      else if (text[start - 1] === '(' && !parensBalanced(text.slice(start, end))) s = start - 1;
      const raw = text.slice(s, end);
      if (!parensBalanced(raw)) continue;
      const win = groups.slice(0, j + 1).map((g) => g.digits);
      const parenArea = /^(?:\+?1[ .-]?)?\(\d{3}\)/.test(raw);
      const shape = phoneShape(win, plus, raw.includes('.'), parenArea);
      if (!shape) continue;
      out.push(finding(text, 'PHONE', s, end, shape, maskPhone(raw)));
      break;
    }
  }
  return out;
}

function parensBalanced(s: string): boolean {
  let depth = 0;
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/**
 * Findings at or above minConfidence (default 0.5), non-overlapping, in order of position. Where candidates
 * overlap, the more confident one wins, then the stronger validator (IBAN, card, SSN, email, phone).
 */
export function scanText(text: string, opts: ScanOptions = {}): PiiFinding[] {
  const min = opts.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  const candidates = [...findIbans(text), ...findCards(text), ...findSsns(text), ...findEmails(text), ...findPhones(text)]
    .filter((f) => f.confidence >= min)
    .sort((a, b) => a.start - b.start);
  const kept: PiiFinding[] = [];
  // Overlaps only happen within a cluster of chained overlapping candidates, usually one or two long.
  for (let i = 0; i < candidates.length; ) {
    let clusterEnd = candidates[i]!.end;
    let j = i + 1;
    while (j < candidates.length && candidates[j]!.start < clusterEnd) clusterEnd = Math.max(clusterEnd, candidates[j++]!.end);
    kept.push(...resolveOverlaps(candidates.slice(i, j)));
    i = j;
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Greedy: the most confident candidate first, then the stronger validator; anything overlapping a kept one goes. */
function resolveOverlaps(cluster: PiiFinding[]): PiiFinding[] {
  const kept: PiiFinding[] = [];
  const ranked = [...cluster].sort((a, b) => b.confidence - a.confidence || KIND_PRIORITY[a.kind] - KIND_PRIORITY[b.kind] || a.start - b.start);
  for (const c of ranked) if (!kept.some((k) => c.start < k.end && k.start < c.end)) kept.push(c);
  return kept;
}

/** `$.a.b`, `$["odd key"]`, `$[0]`: JSONPath-style, so a reviewer can find the field in the sample. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Walks any JSON value and scans every string; `path` like `$.participants[0].notes`. Object keys are not
 * scanned (they name fields, which the field rules already cover); a value reached twice is scanned once.
 */
export function scanValue(value: unknown, opts: ScanOptions = {}): (PiiFinding & { path: string })[] {
  const out: (PiiFinding & { path: string })[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      for (const f of scanText(v, opts)) out.push({ ...f, path });
    } else if (Array.isArray(v)) {
      if (seen.has(v)) return;
      seen.add(v);
      v.forEach((item, i) => walk(item, childPath(path, i)));
    } else if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
      for (const [k, item] of Object.entries(v)) walk(item, childPath(path, k));
    }
  };
  walk(value, '$');
  return out;
}

/** Counts per kind, for evidence in an artifact; every kind is present, zero when not found. */
export function summarize(findings: { kind: PiiKind }[]): Record<PiiKind, number> {
  const counts = Object.fromEntries(PII_KINDS.map((k) => [k, 0])) as Record<PiiKind, number>;
  for (const f of findings) counts[f.kind]++;
  return counts;
}
