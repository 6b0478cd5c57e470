// kafkajs' fetch path: record decoding (see index.ts).

/** What kafkajs' record decoder reads with. */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}
interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  maxTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
}
const LOG_APPEND_TIME = 1;

/**
 * kafkajs decodes each fetched record's offset and timestamp by parsing its batch's base offset and time (decimal
 * strings) into 64-bit Long objects and printing the sums back, and merges its headers by spreading an object per
 * header. This returns the same record with the sums done in plain numbers — exact below 2^53, which offsets and
 * millisecond times stay under; anything beyond goes the Long way.
 */
export function decodeRecord(longOf: (v: string) => { add(n: unknown): { toString(): string } }) {
  const plus = (base: string, delta: number | { toString(): string }) => {
    const n = Number(base);
    const sum = typeof delta === 'number' ? n + delta : NaN;
    return Number.isSafeInteger(n) && Number.isSafeInteger(sum) ? String(sum) : longOf(base).add(delta).toString();
  };
  return (decoder: KafkajsDecoder, batchContext: BatchContext = {}) => {
    const { firstOffset = '0', firstTimestamp = '0', magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const attributes = decoder.readInt8();
    const timestampDelta = readVarLong(decoder);
    const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : plus(firstTimestamp, timestampDelta);
    const offset = plus(firstOffset, decoder.readVarInt());
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const headers: Record<string, Buffer | null | (Buffer | null)[]> = {};
    for (let n = decoder.readVarInt(); n > 0; n--) {
      const name = String(decoder.readVarIntString());
      const v = decoder.readVarIntBytes();
      const before = headers[name];
      headers[name] = before === undefined ? v : Array.isArray(before) ? [...before, v] : [before, v];
    }
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };
}

/** A zigzag varlong as a number when it fits in 7 bytes (±2^48), else as kafkajs reads it (a Long). */
function readVarLong(decoder: KafkajsDecoder): number | { toString(): string } {
  const start = decoder.offset;
  const buf = decoder.buffer;
  let z = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = buf[decoder.offset++]!;
    z += (byte & 0x7f) * scale;
    if (byte < 0x80) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    scale *= 0x80;
  }
  decoder.offset = start;
  return decoder.readVarLong();
}
