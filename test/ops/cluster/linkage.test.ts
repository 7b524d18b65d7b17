import test from 'ava'
import { agnes } from 'ml-hclust'

import { linkage, pdist, type LinkageMethod } from '../../../lib/ops/cluster/index.js'
import { compareLinkage, fixtures, hasScipy, python, random } from './helpers.js'

test(`fixtures were made by scipy ${fixtures.scipy} and cover all methods, metrics, ties and duplicates`, (t) => {
  const methods = new Set(fixtures.cases.map((c) => c.method))
  const metrics = new Set(fixtures.cases.map((c) => c.metric))
  t.is(methods.size, 7)
  t.deepEqual([...metrics].sort(), ['cosine', 'euclidean', 'precomputed'])
  t.true(fixtures.cases.some((c) => c.name.startsWith('duplicates/')))
  t.true(fixtures.cases.some((c) => c.name.startsWith('grid-ties')))
})

for (const c of fixtures.cases) {
  test(`equals scipy row by row: ${c.name} (n=${c.n})`, async (t) => {
    const input = new Float64Array(fixtures.inputs[c.input])
    const Z = await linkage(input, c.n, c.d, { method: c.method, metric: c.metric })
    const diff = compareLinkage(Z, c.Z)
    t.is(diff, undefined, diff)
  })
}

test('Float32Array points give the same linkage as Float64Array (fixture points are float32 values)', async (t) => {
  for (const c of fixtures.cases.filter((x) => x.metric === 'euclidean' && x.n <= 120)) {
    const f64 = new Float64Array(fixtures.inputs[c.input])
    const Z32 = await linkage(new Float32Array(f64), c.n, c.d, { method: c.method })
    const Z64 = await linkage(f64, c.n, c.d, { method: c.method })
    t.deepEqual(Array.from(Z32), Array.from(Z64), c.name)
  }
})

test("the libtorch path (options.gram 'torch') gives scipy's linkage too", async (t) => {
  for (const c of fixtures.cases.filter((x) => x.metric !== 'precomputed' && x.n <= 120 && x.method === 'average')) {
    const X = new Float64Array(fixtures.inputs[c.input])
    const a = await linkage(X, c.n, c.d, { method: 'average', metric: c.metric, gram: 'torch' })
    t.is(compareLinkage(a, c.Z), undefined, c.name)
  }
})

test('pdist: duplicated points are exactly 0 and close pairs equal the direct formula', async (t) => {
  const X = new Float64Array([1.5, 2.25, 3, 1.5, 2.25, 3, 1.5, 2.25, 3.001, -7, 0.5, 2])
  const y = await pdist(X, 4, 3)
  t.is(y[0], 0)
  t.is(y[1], Math.sqrt((3 - 3.001) ** 2))
  const yc = await pdist(X, 4, 3, { metric: 'cosine' })
  t.true(yc[0] >= 0 && yc[0] < 1e-15)
})

test('a larger random set (n=1500, d=24) equals scipy for every method (live scipy)', async (t) => {
  if (!hasScipy()) {
    t.log('SKIPPED: python3 with scipy is not available here; the committed fixtures cover these cases')
    t.pass()
    return
  }
  const n = 1500
  const d = 24
  const rnd = random(7)
  const X = new Float32Array(n * d).map(() => rnd() * 2 - 1)
  const methods: LinkageMethod[] = ['single', 'complete', 'average', 'weighted', 'ward', 'centroid', 'median']
  const expected = python(
    `import sys, json, numpy as np
from scipy.cluster.hierarchy import linkage
a = json.load(sys.stdin)
X = np.array(a['X'], dtype=np.float32).astype(np.float64).reshape(a['n'], a['d'])
print(json.dumps({m: linkage(X, m).ravel().tolist() for m in a['methods']}))`,
    { X: Array.from(X), n, d, methods },
  ) as Record<string, number[]>
  for (const method of methods) {
    const Z = await linkage(X, n, d, { method })
    t.is(compareLinkage(Z, expected[method]), undefined, method)
  }
})

// ml-hclust's agnes returns a tree; compare the set of merged leaf sets with their heights.
function nodesOfZ(Z: Float64Array, n: number): Map<string, number> {
  const members: number[][] = Array.from({ length: n }, (_, i) => [i])
  const out = new Map<string, number>()
  for (let k = 0; k < n - 1; k++) {
    const m = [...members[Z[4 * k]], ...members[Z[4 * k + 1]]].sort((a, b) => a - b)
    members.push(m)
    out.set(m.join(','), Z[4 * k + 2])
  }
  return out
}
interface Node {
  children: Node[]
  height: number
  index: number
  isLeaf: boolean
}
function nodesOfAgnes(root: Node): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (c: Node): number[] => {
    if (c.isLeaf) return [c.index]
    const m = c.children.flatMap(walk).sort((a, b) => a - b)
    out.set(m.join(','), c.height)
    return m
  }
  walk(root)
  return out
}

for (const [ours, theirs] of [
  ['single', 'single'],
  ['complete', 'complete'],
  ['average', 'average'],
  ['weighted', 'wpgma'],
  ['ward', 'ward2'],
] as const) {
  test(`equals ml-hclust's agnes '${theirs}' (same merges, same heights) for '${ours}'`, async (t) => {
    const n = 80
    const d = 6
    const rnd = random(3)
    const X = new Float64Array(n * d).map(() => rnd() * 10)
    const rows = Array.from({ length: n }, (_, i) => Array.from(X.subarray(i * d, (i + 1) * d)))
    const expected = nodesOfAgnes(agnes(rows, { method: theirs }) as unknown as Node)
    const actual = nodesOfZ(await linkage(X, n, d, { method: ours }), n)
    t.is(actual.size, expected.size)
    for (const [key, h] of expected) {
      const a = actual.get(key)
      t.true(a !== undefined && Math.abs(a - h) <= 1e-9 * Math.max(1, h), `node {${key}}: ${a} vs ml-hclust ${h}`)
    }
  })
}

test('onProgress reports both phases, ending at 1, and the event loop stays free while it runs', async (t) => {
  const n = 3000
  const d = 32
  const rnd = random(11)
  const X = new Float32Array(n * d).map(() => rnd())
  const seen: Record<string, number[]> = { distances: [], linkage: [] }
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  await linkage(X, n, d, { method: 'average', onProgress: (f, phase) => seen[phase].push(f) })
  clearInterval(timer)
  await new Promise((r) => setImmediate(r))
  t.true(seen.distances.length > 0 && seen.linkage.length > 0)
  t.is(seen.linkage[seen.linkage.length - 1], 1)
  t.true(seen.linkage.every((f, i) => i === 0 || f >= seen.linkage[i - 1]))
  t.true(ticks > 0, 'timers ran while the linkage was computed')
})

test('two linkages run concurrently and each gives its own result', async (t) => {
  const c1 = fixtures.cases.find((c) => c.name === 'gauss-300x16/euclidean/ward')!
  const c2 = fixtures.cases.find((c) => c.name === 'grid-ties-48x2/euclidean/single')!
  const [a, b] = await Promise.all([
    linkage(new Float64Array(fixtures.inputs[c1.input]), c1.n, c1.d, { method: 'ward' }),
    linkage(new Float64Array(fixtures.inputs[c2.input]), c2.n, c2.d, { method: 'single' }),
  ])
  t.is(compareLinkage(a, c1.Z), undefined)
  t.is(compareLinkage(b, c2.Z), undefined)
})

test('precomputed distances may come as a Float32Array (exact float32 values give the same linkage)', async (t) => {
  const c = fixtures.cases.find((x) => x.name === 'grid-ties-48x2/precomputed-cityblock/average')!
  const y = fixtures.inputs[c.input]
  const Z = await linkage(new Float32Array(y), c.n, 0, { method: 'average', metric: 'precomputed' })
  t.is(compareLinkage(Z, c.Z), undefined)
})
