/**
 * Latency histograms the engine keeps and worker processes add up: counts per fixed bucket, so two histograms
 * merge by adding counts and a quantile is exact to its bucket's width (1 ms up to 100 ms, 5 ms up to 1 s, 50 ms up
 * to 10 s, 1 s up to 60 s). Plain numbers, so a report crosses process boundaries as JSON.
 */
export const BUCKET_BOUNDS_MS: readonly number[] = [
  ...range(1, 100, 1),
  ...range(105, 1000, 5),
  ...range(1050, 10_000, 50),
  ...range(11_000, 60_000, 1000),
];

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/**
 * Counts per bucket of BUCKET_BOUNDS_MS (a value falls in the first bucket whose bound is ≥ it), and one for more;
 * and the sum of the values (Prometheus histograms carry it).
 */
export interface Histogram {
  counts: number[];
  sum: number;
}

export const emptyHistogram = (): Histogram => ({ counts: new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0), sum: 0 });

export function observe(h: Histogram, ms: number): void {
  h.sum += ms;
  let lo = 0;
  let hi = BUCKET_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (BUCKET_BOUNDS_MS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  h.counts[lo]!++;
}

export function addHistograms(a: Histogram, b: Histogram): Histogram {
  return { counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)), sum: a.sum + b.sum };
}

/** b − a: what was observed between two snapshots of one histogram. */
export function histogramSince(later: Histogram, earlier: Histogram | undefined): Histogram {
  return { counts: later.counts.map((n, i) => n - (earlier?.counts[i] ?? 0)), sum: later.sum - (earlier?.sum ?? 0) };
}

export const histogramCount = (h: Histogram): number => h.counts.reduce((a, n) => a + n, 0);

/** The upper bound of the bucket holding quantile q (0–1); Infinity past the last bound; undefined when empty. */
export function quantile(h: Histogram, q: number): number | undefined {
  const total = histogramCount(h);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= rank) return BUCKET_BOUNDS_MS[i] ?? Infinity;
  }
  return Infinity;
}
