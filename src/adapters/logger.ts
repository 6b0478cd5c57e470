import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Personal-data paths removed from every log line, should a record or a payload ever reach a logger:
 * the contract fields that carry PII and raw record bytes.
 */
export const REDACTED_PATHS = [
  'ani', 'dnis', 'transcript', 'participants', 'attributes', 'address', 'email', 'phone', 'value', 'key',
  '*.ani', '*.dnis', '*.transcript', '*.participants', '*.attributes', '*.address', '*.name', '*.email', '*.phone',
  '*.value', '*.key', 'record', '*.record',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { name: 'consentgate', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination as pino.DestinationStream) : pino(opts, pino.destination(2));
}
