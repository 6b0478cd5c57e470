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
