// Issues 12.4 and 15.1 for the clustering bindings: hostile input at the native boundary. Each probe runs in a child
// process (a use-after-free or a stack overflow would kill it, and the test sees the signal); the child prints JSON
// with what happened, and the test checks the messages.
import test, { type ExecutionContext } from 'ava'

import { FAILURE_HELPER, probeChild, REPO } from '../../helpers/run_child.js'

// Runs `body` (which ends by printing a JSON value on the last stdout line) in a child; it must exit 0.
function probe(t: ExecutionContext, body: string): Record<string, string> {
  return probeChild(t, `
import { linkage, pdist } from '${REPO}/lib/ops/cluster/index.js'
${FAILURE_HELPER}
const points = (n: number, d: number) => Float64Array.from({ length: n * d }, (_, i) => Math.round(Math.sin(i * 7.1) * 10) / 10)
const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]))
${body}`)
}

test('an option getter that transfers the points buffer: refused (detached), no use of freed memory', (t) => {
  const out = probe(t, `
const X = points(40, 3)
const opts = { get method() { structuredClone(X.buffer, { transfer: [X.buffer] }); return 'average' } }
const Y = points(40, 3)
const precomputed = await pdist(Y, 40, 3)
const optsP = { metric: 'precomputed', get method() { structuredClone(precomputed.buffer, { transfer: [precomputed.buffer] }); return 'single' } }
const P = points(40, 3)
const optsPd = { get metric() { structuredClone(P.buffer, { transfer: [P.buffer] }); return 'euclidean' } }
console.log(JSON.stringify({
  linkage: await failure(linkage(X, 40, 3, opts as never)),
  precomputed: await failure(linkage(precomputed, 40, 0, optsP as never)),
  pdist: await failure(pdist(P, 40, 3, optsPd as never)),
}))`)
  t.regex(out.linkage, /^TypeError: points is a view of a detached ArrayBuffer \(transferred away\)/)
  t.regex(out.precomputed, /^RangeError: distances \(points with metric 'precomputed'\) has length 0 .*expected n\(n-1\)\/2 = 780/)
  t.regex(out.pdist, /^TypeError: points is a view of a detached ArrayBuffer/)
})

test('a resizable buffer shrunk by an option getter is refused; one that stays whole is read as it is', (t) => {
  const out = probe(t, `
const rab = new ArrayBuffer(30 * 2 * 8, { maxByteLength: 4096 })
const X = new Float64Array(rab)
X.set(points(30, 2))
const shrink = { get gram() { rab.resize(0); return 'builtin' }, method: 'ward' }
const shrunk = await failure(linkage(X, 30, 2, shrink as never))
rab.resize(30 * 2 * 8)
X.set(points(30, 2))
const whole = same(await linkage(X, 30, 2, { method: 'ward' }), await linkage(points(30, 2), 30, 2, { method: 'ward' }))
console.log(JSON.stringify({ shrunk, whole: String(whole) }))`)
  t.regex(out.shrunk, /^RangeError: points has length 0 .*expected n\*d = 60/)
  t.is(out.whole, 'true')
})

test('transferring or shrinking the input while an async linkage runs does not change its result', (t) => {
  const out = probe(t, `
const n = 600, d = 16
const reference = await linkage(points(n, d), n, d, { method: 'average' })
const X = points(n, d)
const pending = linkage(X, n, d, { method: 'average' })
structuredClone(X.buffer, { transfer: [X.buffer] })
const rab = new ArrayBuffer(n * d * 8, { maxByteLength: n * d * 8 })
const R = new Float64Array(rab)
R.set(points(n, d))
const pendingR = linkage(R, n, d, { method: 'average', onProgress: () => rab.resize(0) })
rab.resize(8)
console.log(JSON.stringify({ transferred: String(same(await pending, reference)), resized: String(same(await pendingR, reference)) }))`)
  t.is(out.transferred, 'true')
  t.is(out.resized, 'true')
})

test('zero-length, detached and wrongly typed inputs are refused with a message naming the argument', (t) => {
  const out = probe(t, `
const detached = points(4, 2)
structuredClone(detached.buffer, { transfer: [detached.buffer] })
console.log(JSON.stringify({
  empty: await failure(linkage(new Float64Array(0), 2, 1, { method: 'single' })),
  detached: await failure(linkage(detached, 4, 2, { method: 'single' })),
  emptyPrecomputed: await failure(linkage(new Float64Array(0), 2, 0, { method: 'single', metric: 'precomputed' })),
  int32: await failure(linkage(new Int32Array(4) as never, 2, 2, { method: 'single' })),
  noOptions: await failure(() => linkage(points(2, 1), 2, 1, undefined as never)),
}))`)
  t.regex(out.empty, /^RangeError: points has length 0 \(empty, or its buffer was transferred\/detached\), expected n\*d = 2/)
  t.regex(out.detached, /^TypeError: points is a view of a detached ArrayBuffer/)
  t.regex(out.emptyPrecomputed, /^RangeError: distances .* has length 0 .*expected n\(n-1\)\/2 = 1/)
  t.regex(out.int32, /^TypeError: points must be a Float32Array or Float64Array, got Int32Array/)
  t.regex(out.noOptions, /^TypeError: options must be an object, got undefined/)
})

test('huge n is refused before anything is allocated, with the memory it would need', (t) => {
  const out = probe(t, `
const X = new Float64Array(1_000_000)
console.log(JSON.stringify({
  memory: await failure(linkage(X, 1_000_000, 1, { method: 'single' })),
  memoryPdist: await failure(pdist(X, 1_000_000, 1)),
  mismatch: await failure(linkage(new Float64Array(6), 1e15, 1, { method: 'single' })),
  precomputed: await failure(linkage(new Float64Array(6), 2 ** 40, 0, { method: 'single', metric: 'precomputed' })),
  beyondSafe: await failure(linkage(new Float64Array(6), 2 ** 60, 1, { method: 'single' })),
}))`)
  t.regex(out.memory, /^RangeError: n = 1000000 needs a condensed matrix of 3725\.\d+ GiB, more than this machine's memory/)
  t.regex(out.memoryPdist, /^RangeError: n = 1000000 needs a condensed matrix/)
  t.regex(out.mismatch, /^RangeError: points has length 6, expected n\*d = 1000000000000000 \(n = 1000000000000000, d = 1\)/)
  t.regex(out.precomputed, /^RangeError: distances .* has length 6, expected n\(n-1\)\/2 = 6\.04463e\+23 for n = 1099511627776/)
  t.regex(out.beyondSafe, /^RangeError: n must be an integer >= 2, got 1\.15\d*e\+18/)
})

test('Inf and NaN are refused, in points and in precomputed distances, naming the entry', (t) => {
  const out = probe(t, `
const X = points(5, 2)
X[7] = Infinity
const y = new Float64Array(10).fill(1)
y[3] = -Infinity
const z = new Float32Array(10).fill(1)
z[9] = NaN
console.log(JSON.stringify({
  points: await failure(linkage(X, 5, 2, { method: 'ward' })),
  pdist: await failure(pdist(X, 5, 2, { metric: 'cosine' })),
  precomputed: await failure(linkage(y, 5, 0, { method: 'average', metric: 'precomputed' })),
  precomputedNaN: await failure(linkage(z, 5, 0, { method: 'average', metric: 'precomputed' })),
}))`)
  t.regex(out.points, /^RangeError: points\[7\] \(row 3, column 1\) must be finite, got inf/)
  t.regex(out.pdist, /^RangeError: points\[7\] \(row 3, column 1\) must be finite, got inf/)
  t.regex(out.precomputed, /^RangeError: distances\[3\] must be finite, got -inf/)
  t.regex(out.precomputedNaN, /^RangeError: distances\[9\] must be finite, got nan/)
})
