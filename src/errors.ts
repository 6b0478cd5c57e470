/** Error codes the pipeline reports (in the dlq, in logs, in exit messages). Adapters translate library errors into these. */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'DESERIALIZATION_FAILED',
  'VALIDATION_FAILED',
  'RECORD_TOO_LARGE',
  'RECORD_REJECTED',
  'SCHEMA_REGISTRY_UNAVAILABLE',
  'KAFKA_UNAVAILABLE',
  'PRODUCER_FENCED',
  'TRANSACTION_FAILED',
  'GENESYS_AUTH_FAILED',
  'GENESYS_REJECTED',
  'GENESYS_UNAVAILABLE',
  'INTERRUPTED',
  /** What a command was asked about does not exist (exit 1). */
  'NOT_FOUND',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class ConsentgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConsentgateError';
  }
}

/** An error and the errors it wraps (`cause`), outermost first, at most `depth` of them. */
export function* errorChain(err: unknown, depth = 5): Generator<{ name?: string; code?: string; message?: string }> {
  for (let e = err as { name?: string; code?: string; message?: string; cause?: unknown } | undefined; e && depth-- > 0; e = e.cause as typeof e) yield e;
}
