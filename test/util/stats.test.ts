import test from 'ava'
import { mean, std, variance } from '../../lib/util/stats.js'

test('mean, sample variance and std match hand-computed values (numpy ddof=1)', (t) => {
  // [2, 4, 4, 4, 5, 5, 7, 9]: sum 40, mean 5, squared deviations 32, sample variance 32/7.
  const xs = [2, 4, 4, 4, 5, 5, 7, 9]
  t.is(mean(xs), 5)
  t.is(variance(xs), 32 / 7)
  t.is(std(xs), Math.sqrt(32 / 7))
})

test('empty and single-value lists: mean takes the caller’s empty value, spread is 0', (t) => {
  t.is(mean([]), 0)
  t.true(Number.isNaN(mean([], NaN)))
  t.is(variance([3]), 0)
  t.is(std([]), 0)
})
