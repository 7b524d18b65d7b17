// Held-out splits of generated questions, stratified: every stratum (hop count, operation count) is cut by the same
// fractions, so that each split has every kind of question in the same proportion.
import type { Random } from '../util/random.js'
import type { Splits } from './types.js'

/** Cuts each stratum into validation, test and train (in that order) by the fractions, then shuffles each split. */
export function stratifiedSplits<T>(strata: readonly (readonly T[])[], validationFraction: number, testFraction: number, rng: Random): Splits<T> {
  const splits: Splits<T> = { train: [], validation: [], test: [] }
  for (const items of strata) {
    const nVal = Math.round(items.length * validationFraction)
    const nTest = Math.round(items.length * testFraction)
    splits.validation.push(...items.slice(0, nVal))
    splits.test.push(...items.slice(nVal, nVal + nTest))
    splits.train.push(...items.slice(nVal + nTest))
  }
  for (const k of ['train', 'validation', 'test'] as const) splits[k] = rng.shuffle(splits[k])
  return splits
}
