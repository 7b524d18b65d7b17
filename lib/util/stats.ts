// Summary statistics of plain number lists (metrics, reports, HEK support), one definition for the project.

/** Arithmetic mean; `ifEmpty` for an empty list (0 for a metric row, NaN where "no data" must show). */
export function mean(xs: readonly number[], ifEmpty = 0): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : ifEmpty
}

/** Unbiased sample variance (n - 1); 0 below two values. */
export function variance(xs: readonly number[]): number {
  if (xs.length < 2) return 0
  const m = mean(xs)
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)
}

/** Sample standard deviation (n - 1), as numpy's std(ddof=1); 0 below two values. */
export function std(xs: readonly number[]): number {
  return Math.sqrt(variance(xs))
}
