import test from 'ava'

import { linkage } from '../../../lib/ops/cluster/index.js'

const X = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1])

const cases: [string, () => Promise<unknown>, new (...a: never[]) => Error, RegExp][] = [
  ['NaN point', () => linkage(new Float32Array([0, 0, Number.NaN, 1]), 2, 2, { method: 'single' }), RangeError, /points\[2\] \(row 1, column 0\) must be finite, got nan/i],
  ['Infinity point', () => linkage(new Float64Array([0, Infinity, 0, 1]), 2, 2, { method: 'ward' }), RangeError, /points\[1\].*must be finite/],
  ['n < 2', () => linkage(new Float32Array([1, 2]), 1, 2, { method: 'single' }), RangeError, /n must be an integer >= 2, got 1/],
  ['n not an integer', () => linkage(X, 2.5, 2, { method: 'single' }), RangeError, /n must be an integer/],
  ['n not a number', () => linkage(X, '4' as never, 2, { method: 'single' }), TypeError, /n must be a number, got string/],
  ['d = 0', () => linkage(new Float32Array(0), 4, 0, { method: 'single' }), RangeError, /d must be an integer >= 1, got 0/],
  ['wrong points length', () => linkage(X, 3, 2, { method: 'single' }), RangeError, /points has length 8, expected n\*d = 6/],
  ['points of the wrong type', () => linkage([0, 1, 2, 3] as never, 2, 2, { method: 'single' }), TypeError, /points must be a Float32Array or Float64Array, got Array/],
  ['Int32Array points', () => linkage(new Int32Array(4) as never, 2, 2, { method: 'single' }), TypeError, /got Int32Array/],
  ['unknown method', () => linkage(X, 4, 2, { method: 'upgma' as never }), RangeError, /options.method must be one of 'single'.*got 'upgma'/],
  ['missing method', () => linkage(X, 4, 2, {} as never), TypeError, /options.method is required/],
  ['missing options', () => linkage(X, 4, 2, undefined as never), TypeError, /options must be an object/],
  ['unknown metric', () => linkage(X, 4, 2, { method: 'single', metric: 'manhattan' as never }), RangeError, /options.metric must be one of/],
  ['ward with cosine', () => linkage(X, 4, 2, { method: 'ward', metric: 'cosine' }), RangeError, /options.method 'ward' is defined for euclidean distances only/],
  ['centroid with cosine', () => linkage(X, 4, 2, { method: 'centroid', metric: 'cosine' }), RangeError, /'centroid'.*euclidean/],
  ['median with cosine', () => linkage(X, 4, 2, { method: 'median', metric: 'cosine' }), RangeError, /'median'.*euclidean/],
  ['zero row with cosine', () => linkage(new Float32Array([0, 0, 1, 1, 2, 3]), 3, 2, { method: 'single', metric: 'cosine' }), RangeError, /points row 0 is all zeros/],
  ['condensed of the wrong length', () => linkage(new Float64Array(5), 4, 0, { method: 'average', metric: 'precomputed' }), RangeError, /has length 5, expected n\(n-1\)\/2 = 6/],
  ['negative distance', () => linkage(new Float64Array([1, 2, -3, 4, 5, 6]), 4, 0, { method: 'average', metric: 'precomputed' }), RangeError, /distances\[2\] must be non-negative, got -3/],
  ['NaN distance', () => linkage(new Float64Array([1, Number.NaN, 3, 4, 5, 6]), 4, 0, { method: 'complete', metric: 'precomputed' }), RangeError, /distances\[1\] must be finite/],
  ['onProgress not a function', () => linkage(X, 4, 2, { method: 'single', onProgress: 3 as never }), TypeError, /options.onProgress must be a function/],
  ['unknown gram kernel', () => linkage(X, 4, 2, { method: 'single', gram: 'blas' as never }), RangeError, /options.gram/],
  ['n too large for memory', () => linkage(new Float64Array(1), 50_000_000, 0, { method: 'single', metric: 'precomputed' }), RangeError, /length 1, expected n\(n-1\)\/2/],
]

for (const [name, call, type, message] of cases) {
  test(`bad input rejects with a clear ${type.name}: ${name}`, async (t) => {
    await t.throwsAsync(call, { instanceOf: type, message })
  })
}

test('a throwing onProgress callback does not break the linkage', async (t) => {
  const Z = await linkage(X, 4, 2, {
    method: 'average',
    onProgress: () => {
      throw new Error('boom')
    },
  })
  t.is(Z.length, 12)
})
