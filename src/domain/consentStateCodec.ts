import {
  CHANNELS,
  COMPLIANCE_STATUSES,
  CONSENT_SOURCES,
  PURPOSES,
  type ConsentEntry,
  type ConsentState,
} from './types.ts';

/**
 * A compact binary form of one customer's ConsentState, for the in-memory consent table (the changelog keeps Avro).
 * A typical state is ~50 bytes instead of Avro's ~165: the customer id is the table's key and is left out, event ids
 * are written once per state (one event usually sets several purposes) and as 16 bytes when they are UUIDs, enums
 * are indexes, and times are varints relative to `updatedAt`. Every state round-trips exactly.
 *
 * Layout: format (1), flags (bit 0: customerId differs from the key, then written), complianceStatus, version,
 * updatedAt, [customerId], event id count and ids (0 + 16 bytes of a lowercase UUID, or 1 + UTF-8 string), purpose
 * count, per purpose: purpose, has entry, [entry], override count, per override: channel, entry. An entry: granted
 * and source in one byte, capturedAt − updatedAt, event id index. Integers are (zigzag) varints.
 */
export const consentStateCodec = {
  /** The result is a view of a buffer that the next encode reuses: copy it to keep it. */
  encode(key: string, state: ConsentState): Uint8Array {
    const w = writer;
    w.reset();
    // Event ids first: entries refer to them by index.
    const ids: string[] = [];
    for (const p of state.purposes) {
      if (p.entry && !ids.includes(p.entry.eventId)) ids.push(p.entry.eventId);
      for (const c of p.channels) if (!ids.includes(c.eventId)) ids.push(c.eventId);
    }
    w.byte(FORMAT);
    w.byte(state.customerId === key ? 0 : 1);
    w.byte(indexOf(COMPLIANCE_STATUSES, state.complianceStatus));
    w.uint(state.version);
    w.int(state.updatedAt);
    if (state.customerId !== key) w.string(state.customerId);
    w.uint(ids.length);
    for (const id of ids) {
      if (!w.uuid(id)) {
        w.byte(1);
        w.string(id);
      }
    }
    w.uint(state.purposes.length);
    for (const p of state.purposes) {
      w.byte(indexOf(PURPOSES, p.purpose));
      w.byte(p.entry ? 1 : 0);
      if (p.entry) writeEntry(w, p.entry, state.updatedAt, ids);
      w.uint(p.channels.length);
      for (const c of p.channels) {
        w.byte(indexOf(CHANNELS, c.channel));
        writeEntry(w, c, state.updatedAt, ids);
      }
    }
    return w.bytes();
  },

  fromAvro: transcodeAvro,

  decode(key: string, bytes: Uint8Array): ConsentState {
    const r = new Reader(bytes);
    if (r.byte() !== FORMAT) throw new Error('not an encoded consent state');
    const flags = r.byte();
    const complianceStatus = COMPLIANCE_STATUSES[r.byte()]!;
    const version = r.uint();
    const updatedAt = r.int();
    const customerId = flags & 1 ? r.string() : key;
    const ids: string[] = [];
    for (let n = r.uint(); n > 0; n--) ids.push(r.byte() === 0 ? r.uuid() : r.string());
    const purposes: ConsentState['purposes'] = [];
    for (let n = r.uint(); n > 0; n--) {
      const purpose = PURPOSES[r.byte()]!;
      const e = r.byte() === 1 ? readEntry(r, updatedAt, ids) : null;
      const channels: ConsentState['purposes'][number]['channels'] = [];
      for (let m = r.uint(); m > 0; m--) {
        const channel = CHANNELS[r.byte()]!;
        channels.push({ channel, ...readEntry(r, updatedAt, ids) });
      }
      purposes.push({ purpose, entry: e, channels });
    }
    return { customerId, purposes, complianceStatus, version, updatedAt };
  },
};

const FORMAT = 1;

/**
 * The compact form of a ConsentState straight from its Avro body (ConsentState.avsc, the changelog's current schema,
 * whose enum symbols are in the order of PURPOSES, CHANNELS, CONSENT_SOURCES and COMPLIANCE_STATUSES — a unit test
 * holds both to it): the same bytes as `encode(key, <the body decoded>)`, without building the state's objects, for a
 * restore that applies a million of them. The result is a view of a buffer that the next encode reuses.
 */
function transcodeAvro(key: string, body: Uint8Array): Uint8Array {
  const r = new AvroReader(body);
  const p = parsed;
  const idStart = r.skipString();
  const idEnd = r.at;
  // Entries in the order `encode` meets them: a purpose's entry, then its channel overrides.
  let purposes = 0;
  let entries = 0;
  for (let n = r.blockCount(); n > 0; n = r.blockCount()) {
    for (; n > 0; n--, purposes++) {
      p.purpose[purposes] = r.symbol(PURPOSES.length);
      p.firstEntry[purposes] = entries;
      p.hasEntry[purposes] = r.symbol(2); // the union's branch: 0 null, 1 ConsentEntry
      if (p.hasEntry[purposes] === 1) readEntryInto(r, entries++, -1);
      let channels = 0;
      for (let m = r.blockCount(); m > 0; m = r.blockCount()) {
        for (; m > 0; m--, channels++) readEntryInto(r, entries++, r.symbol(CHANNELS.length));
      }
      p.channels[purposes] = channels;
    }
  }
  const complianceStatus = r.symbol(COMPLIANCE_STATUSES.length);
  const version = r.int();
  const updatedAt = r.int();

  // Event ids: each entry's index among the distinct ones, in the order of first use.
  let ids = 0;
  for (let e = 0; e < entries; e++) {
    let i = 0;
    while (i < ids && !r.equal(p.idStart[p.distinct[i]!]!, p.idEnd[p.distinct[i]!]!, p.idStart[e]!, p.idEnd[e]!)) i++;
    if (i === ids) p.distinct[ids++] = e;
    p.idIndex[e] = i;
  }

  const w = writer;
  w.reset();
  const sameId = r.equalsString(idStart, idEnd, key);
  w.byte(FORMAT);
  w.byte(sameId ? 0 : 1);
  w.byte(complianceStatus);
  w.uint(version);
  w.int(updatedAt);
  if (!sameId) w.utf8(body, idStart, idEnd);
  w.uint(ids);
  for (let i = 0; i < ids; i++) {
    const start = p.idStart[p.distinct[i]!]!;
    const end = p.idEnd[p.distinct[i]!]!;
    if (!w.uuidBytes(body, start, end)) {
      w.byte(1);
      w.utf8(body, start, end);
    }
  }
  w.uint(purposes);
  for (let i = 0; i < purposes; i++) {
    let e = p.firstEntry[i]!;
    w.byte(p.purpose[i]!);
    w.byte(p.hasEntry[i]!);
    if (p.hasEntry[i] === 1) writeParsedEntry(w, e++, updatedAt);
    w.uint(p.channels[i]!);
    for (let c = 0; c < p.channels[i]!; c++, e++) {
      w.byte(p.channel[e]!);
      writeParsedEntry(w, e, updatedAt);
    }
  }
  return w.bytes();
}

/** The fields of one state as `transcodeAvro` reads them: per purpose and per entry, in arrays every call reuses. */
const parsed = {
  purpose: [] as number[], hasEntry: [] as number[], firstEntry: [] as number[], channels: [] as number[],
  /** Per entry: its override's channel (-1: the purpose's own entry), the ConsentEntry's fields, its event id's bytes. */
  channel: [] as number[], granted: [] as number[], capturedAt: [] as number[], source: [] as number[],
  idStart: [] as number[], idEnd: [] as number[],
  /** Per entry: the index of its event id among the distinct ones; per distinct id: its first entry. */
  idIndex: [] as number[], distinct: [] as number[],
};

/** A ConsentEntry (after its channel, for an override) read into entry `e` of `parsed`. */
function readEntryInto(r: AvroReader, e: number, channel: number): void {
  parsed.channel[e] = channel;
  parsed.granted[e] = r.byte() === 0 ? 0 : 1;
  parsed.capturedAt[e] = r.int();
  parsed.source[e] = r.symbol(CONSENT_SOURCES.length);
  parsed.idStart[e] = r.skipString();
  parsed.idEnd[e] = r.at;
}

function writeParsedEntry(w: Writer, e: number, updatedAt: number): void {
  w.byte(parsed.granted[e]! | (parsed.source[e]! << 1));
  w.int(parsed.capturedAt[e]! - updatedAt);
  w.uint(parsed.idIndex[e]!);
}

function writeEntry(w: Writer, e: ConsentEntry, updatedAt: number, ids: string[]): void {
  w.byte((e.granted ? 1 : 0) | (indexOf(CONSENT_SOURCES, e.source) << 1));
  w.int(e.capturedAt - updatedAt);
  w.uint(ids.indexOf(e.eventId));
}

function readEntry(r: Reader, updatedAt: number, ids: string[]): ConsentEntry {
  const b = r.byte();
  return { granted: (b & 1) === 1, capturedAt: updatedAt + r.int(), source: CONSENT_SOURCES[b >> 1]!, eventId: ids[r.uint()]! };
}

function indexOf<T>(values: readonly T[], value: T): number {
  const i = values.indexOf(value);
  if (i < 0) throw new Error(`unknown value ${String(value)}`);
  return i;
}

/** Appends to one growing buffer, reused by every encode: a result is a view, valid until the next encode. */
class Writer {
  private buf = new Uint8Array(256);
  private at = 0;

  reset(): void {
    this.at = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  byte(b: number): void {
    if (this.at === this.buf.length) this.grow(1);
    this.buf[this.at++] = b;
  }

  /** A non-negative safe integer, 7 bits a byte. */
  uint(n: number): void {
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.byte(n);
  }

  /** A safe integer, zigzag-encoded. */
  int(n: number): void {
    this.uint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  string(s: string): void {
    const utf8 = UTF8_ENCODER.encode(s);
    this.utf8(utf8, 0, utf8.length);
  }

  /** UTF-8 bytes `buf[start, end)` as a string. */
  utf8(buf: Uint8Array, start: number, end: number): void {
    this.uint(end - start);
    this.grow(end - start);
    this.buf.set(buf.subarray(start, end), this.at);
    this.at += end - start;
  }

  /** A lowercase canonical UUID as 0 and its 16 bytes; false (and nothing written) for any other string. */
  uuid(id: string): boolean {
    if (id.length !== 36) return false;
    const { read, written } = UTF8_ENCODER.encodeInto(id, UUID_SCRATCH);
    return read === 36 && written === 36 && this.uuidBytes(UUID_SCRATCH, 0, 36);
  }

  /** As `uuid`, for the string in UTF-8 bytes `buf[start, end)`. */
  uuidBytes(buf: Uint8Array, start: number, end: number): boolean {
    if (end - start !== 36 || buf[start + 8] !== 0x2d || buf[start + 13] !== 0x2d || buf[start + 18] !== 0x2d || buf[start + 23] !== 0x2d) return false;
    this.grow(17);
    const at = this.at;
    this.buf[this.at++] = 0;
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++; // a hyphen
      const byte = (nibble(buf[start + i]!) << 4) | nibble(buf[start + i + 1]!);
      if (byte < 0) return this.rewind(at);
      this.buf[this.at++] = byte;
    }
    return true;
  }

  private rewind(to: number): false {
    this.at = to;
    return false;
  }

  private grow(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
  }
}

/** The value of a lowercase hex digit, or -1. */
function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

const writer = new Writer();
const UTF8_ENCODER = new TextEncoder();
/** A candidate UUID's bytes, for `Writer.uuid`. */
const UUID_SCRATCH = new Uint8Array(36);
const UTF8_DECODER = new TextDecoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

class Reader {
  at = 0;

  constructor(protected readonly buf: Uint8Array) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new Error('encoded consent state is truncated');
    return this.buf[this.at++]!;
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  string(): string {
    const n = this.uint();
    const s = UTF8_DECODER.decode(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }

  uuid(): string {
    let h = '';
    for (let i = 0; i < 16; i++) {
      h += HEX[this.byte()];
      if (i === 3 || i === 5 || i === 7 || i === 9) h += '-';
    }
    return h;
  }
}

/** Reads an Avro binary body: a long (int, enum index, union branch) is a zigzag varint, as `int` reads it. */
class AvroReader extends Reader {
  /** An enum symbol's (or a union branch's) index, below `count`. */
  symbol(count: number): number {
    const i = this.int();
    if (i < 0 || i >= count) throw new Error(`Avro consent state has an enum or union index ${i} out of range`);
    return i;
  }

  /** An array block's item count (0: the array ended); a negative count is followed by the block's size. */
  blockCount(): number {
    const n = this.int();
    if (n >= 0) return n;
    this.int();
    return -n;
  }

  /** Skips a string; returns where its bytes start (they end at `at`). */
  skipString(): number {
    const length = this.int();
    const start = this.at;
    if (length < 0 || start + length > this.buf.length) throw new Error('encoded consent state is truncated');
    this.at += length;
    return start;
  }

  equal(aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
    if (aEnd - aStart !== bEnd - bStart) return false;
    for (let i = 0; i < aEnd - aStart; i++) if (this.buf[aStart + i] !== this.buf[bStart + i]) return false;
    return true;
  }

  /** Whether bytes `[start, end)` are the UTF-8 of `s`. */
  equalsString(start: number, end: number, s: string): boolean {
    if (end - start < s.length) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return UTF8_DECODER.decode(this.buf.subarray(start, end)) === s;
      if (this.buf[start + i] !== c) return false;
    }
    return end - start === s.length;
  }
}
