import { createRequire } from 'node:module';
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

/**
 * A pino logger on stderr (or `destination`): JSON lines, or with LOG_FORMAT=pretty one readable line each
 * (pino-pretty, loaded only then). Redaction applies either way.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { name: 'consentgate', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (destination) return pino(opts, destination as pino.DestinationStream);
  if (process.env.LOG_FORMAT === 'pretty') {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => pino.DestinationStream;
    return pino(opts, pretty({ destination: 2, sync: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' }));
  }
  return pino(opts, pino.destination(2));
}
