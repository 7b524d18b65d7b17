/** Seeded uniform generator for test data that must be the same on every run. */
export { uniform as rng } from '../../lib/util/random.js'

/** Asserts |a - b| <= atol + rtol |b| elementwise; returns the first offending index or -1. */
export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  if (a.length !== b.length) return 0
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return i
  }
  return -1
}

export function close(a: number, b: number, rtol: number, atol: number): boolean {
  return Math.abs(a - b) <= atol + rtol * Math.abs(b)
}
