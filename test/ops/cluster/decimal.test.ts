// Issue 12.1: on short-decimal data scipy's distances tie exactly, and a last-digit difference in one distance turns
// a tie into a strict order and changes the merges. hiexp's distances are scipy's pdist bit for bit, so the whole
// linkage matrix (ids, heights, sizes) must be the same doubles, for every method and both distance paths.
import test from 'ava'

import { linkage, pdist, type LinkageMethod, type LinkageMetric } from '../../../lib/ops/cluster/index.js'
import { compareExact, decimalFixtures, hasScipy, python, random } from './helpers.js'

const GRAMS = ['builtin', 'torch'] as const
const ALL: LinkageMethod[] = ['single', 'complete', 'average', 'weighted', 'ward', 'centroid', 'median']

test("issue 12's 3-point example: single merges (0, 1) first at 0.14142135623730953, as scipy does", async (t) => {
  const X = new Float64Array([0.1, 0.30000000000000004, 0.2, 0.2, 0.1, 0.1])
  // scipy.cluster.hierarchy.linkage(X, 'single') (scipy 1.17.1), written out so that the test needs no fixture.
  const scipy = [0, 1, 0.14142135623730953, 2, 2, 3, 0.14142135623730953, 3]
  for (const gram of GRAMS) {
    const Z = await linkage(X, 3, 2, { method: 'single', gram })
    t.is(compareExact(Z, scipy), undefined, gram)
  }
})

test(`decimal fixtures (scipy ${decimalFixtures.scipy}) cover every method, all three metrics and the issue's example`, (t) => {
  const cases = decimalFixtures.cases
  t.deepEqual(new Set(cases.map((c) => c.method)), new Set(ALL))
  t.deepEqual(new Set(cases.map((c) => c.metric)), new Set(['euclidean', 'cosine', 'precomputed']))
  t.true(cases.some((c) => c.name === 'issue12-single-3x2/euclidean/single'))
  t.true(cases.length >= 400)
})

const byInput = new Map<string, typeof decimalFixtures.cases>()
for (const c of decimalFixtures.cases) {
  const set = c.name.split('/')[0]
  byInput.set(set, [...(byInput.get(set) ?? []), c])
}
for (const [set, cases] of byInput) {
  test(`equals scipy bit for bit on ${set} (every method, metric and distance path)`, async (t) => {
    for (const c of cases) {
      const input = new Float64Array(decimalFixtures.inputs[c.input])
      for (const gram of c.metric === 'precomputed' ? (['builtin'] as const) : GRAMS) {
        const Z = await linkage(input, c.n, c.d, { method: c.method, metric: c.metric, gram })
        t.is(compareExact(Z, c.Z), undefined, `${c.name} (gram ${gram})`)
      }
    }
  })
}

test('pdist equals scipy.spatial.distance.pdist bit for bit on the decimal fixtures (both paths)', async (t) => {
  for (const c of decimalFixtures.cases.filter((x) => x.metric === 'precomputed' && x.method === 'single')) {
    const X = new Float64Array(decimalFixtures.inputs[c.input.split('/')[0]])
    const expected = decimalFixtures.inputs[c.input]
    for (const gram of GRAMS) {
      const y = await pdist(X, c.n, c.d, { gram })
      t.deepEqual(Array.from(y), expected, `${c.input} (gram ${gram})`)
    }
  }
})

// Random short-decimal sets like the ("over a quarter of random small cases" differed before the fix).
function decimalSets(count: number) {
  const rnd = random(12)
  return Array.from({ length: count }, (_, i) => {
    const n = 3 + Math.floor(rnd() * 28)
    const d = 1 + Math.floor(rnd() * 4)
    const kind = i % 3
    const X = Array.from({ length: n * d }, () =>
      kind === 0 ? Math.floor(rnd() * 8) * 0.1 : kind === 1 ? Math.round(rnd() * 20 - 10) / 10 : Math.round(rnd() * 300) / 100,
    )
    return { n, d, X }
  })
}

test('random decimal sets equal live scipy bit for bit (every method, euclidean and cosine, both paths)', async (t) => {
  if (!hasScipy()) {
    t.log('SKIPPED: python3 with scipy is not available here; test/fixtures/cluster/decimal.json covers these cases')
    t.pass()
    return
  }
  const sets = decimalSets(240)
  const expected = python(
    `import sys, json, numpy as np
from scipy.cluster.hierarchy import linkage
out = []
for s in json.load(sys.stdin):
    X = np.array(s['X'], dtype=np.float64).reshape(s['n'], s['d'])
    r = {m: linkage(X, m).ravel().tolist() for m in ${JSON.stringify(ALL)}}
    if not np.any(np.all(X == 0, axis=1)):
        r.update({'cosine/' + m: linkage(X, m, metric='cosine').ravel().tolist() for m in ['single', 'complete', 'average', 'weighted']})
    out.append(r)
print(json.dumps(out))`,
    sets,
  ) as Record<string, number[]>[]
  let compared = 0
  for (const [i, s] of sets.entries()) {
    for (const [key, Zs] of Object.entries(expected[i])) {
      const [metric, method] = key.includes('/') ? (key.split('/') as [LinkageMetric, LinkageMethod]) : ['euclidean' as const, key as LinkageMethod]
      for (const gram of GRAMS) {
        const Z = await linkage(new Float64Array(s.X), s.n, s.d, { method, metric, gram })
        const diff = compareExact(Z, Zs)
        if (diff) t.fail(`set ${i} (n=${s.n}, d=${s.d}) ${key} gram ${gram}: ${diff}`)
        compared++
      }
    }
  }
  t.true(compared > 2 * 240 * 7)
})
