import { createHash } from 'node:crypto';
import { recordBatchBytes, type Serde } from './records.ts';

/** A dead letter: the input record, its original bytes and why it could not be processed (schemas/DeadLetter.avsc). */
export interface DeadLetterValue {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  errorCode: string;
  error: string;
  processor: string;
  failedAt: number;
  /** Set when the original bytes did not fit the dlq: key and value keep a prefix, headers are dropped. */
  truncated?: { keyBytes: number; valueBytes: number; headerBytes: number; sha256: string } | null;
}

/** The broker's default message.max.bytes (and max.message.bytes of a topic that does not set it). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** Bytes kept for the key of a dead letter that must be truncated (a key can be anything on a Kafka topic). */
const KEY_PREFIX_BYTES = 1024;
/** Room for the dead letter's other fields and the encoding's varints, beyond the error text. */
const MARGIN_BYTES = 4096;

/**
 * The dead letter encoded, and the record key to write it under, within `maxBytes` (the dlq's max.message.bytes):
 * as it is when it fits; else with a prefix of the original key and value, no headers, and in `truncated` the
 * original sizes and a SHA-256 of key ‖ value, so the original can still be identified and the loss is explicit.
 */
export function boundedDeadLetter(v: DeadLetterValue, serde: Serde<DeadLetterValue>, maxBytes: number): { key: Buffer | null; value: Buffer } {
  const whole = serde.encode(v);
  if (recordBatchBytes({ key: v.key, value: whole }) <= maxBytes) return { key: v.key, value: whole };
  const sha = createHash('sha256');
  if (v.key) sha.update(v.key);
  if (v.value) sha.update(v.value);
  const key = v.key && v.key.length > KEY_PREFIX_BYTES ? v.key.subarray(0, KEY_PREFIX_BYTES) : v.key;
  const budget = Math.max(0, maxBytes - MARGIN_BYTES - 2 * (key?.length ?? 0) - Buffer.byteLength(v.error) - Buffer.byteLength(v.topic) - Buffer.byteLength(v.processor));
  const headerBytes = Object.entries(v.headers).reduce((n, [k, h]) => n + Buffer.byteLength(k) + h.length, 0);
  const truncated = { keyBytes: v.key?.length ?? 0, valueBytes: v.value?.length ?? 0, headerBytes, sha256: sha.digest('hex') };
  const value = v.value && v.value.length > budget ? v.value.subarray(0, budget) : v.value;
  const error = `${v.error} [original ${truncated.keyBytes}-byte key, ${truncated.valueBytes}-byte value and ${headerBytes} bytes of headers do not fit the dlq: prefixes kept, headers dropped; sha256 of key+value ${truncated.sha256}]`;
  return { key, value: serde.encode({ ...v, key, value, headers: {}, error, truncated }) };
}
