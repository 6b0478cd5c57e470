// Option-argument parsers for the CLI: each returns the parsed value or throws commander's InvalidArgumentError,
// which commander reports as a usage error naming the option (exit 2).
import { InvalidArgumentError } from 'commander';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A strict ISO-8601 time: a date (midnight UTC) or a date and time with its zone (Z or ±hh:mm), as epoch
 * milliseconds. `01/11/2026`, a time without a zone and impossible dates (2026-02-30) are refused, never guessed.
 */
export function isoTime(value: string): number {
  const m = ISO.exec(value);
  const t = Date.parse(value);
  if (!m || !Number.isFinite(t)) throw new InvalidArgumentError('expected an ISO-8601 date or time with its zone, e.g. 2026-11-01 or 2026-11-01T09:00:00Z');
  const [, y, mo, d] = m;
  // Date.parse rolls impossible dates over (2026-02-30 is 2 March); a real date reads back as given.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) {
    throw new InvalidArgumentError(`${y}-${mo}-${d} is not a date`);
  }
  return t;
}

/** `earliest`, or an ISO-8601 time as isoTime takes it. */
export function fromTime(value: string): number | 'earliest' {
  return value === 'earliest' ? 'earliest' : isoTime(value);
}

/** A whole number in [min, max]. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected a whole number of at least ${min}` : `expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** A finite number above `above` (decimals allowed). */
export function numberAbove(above: number): (value: string) => number {
  return (value) => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || n <= above) throw new InvalidArgumentError(`expected a number above ${above}`);
    return n;
  };
}

/** An absolute http(s) URL. */
export function httpUrl(value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw new InvalidArgumentError('expected an http:// or https:// URL');
  return value;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
