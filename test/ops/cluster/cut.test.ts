import test from 'ava'

import { cutTree, dendrogramPng, dendrogramSvg, leafOrder, levels, linkage } from '../../../lib/ops/cluster/index.js'
import { fixtures } from './helpers.js'

const withCuts = fixtures.cases.filter((c) => c.distance && c.metric !== 'precomputed')

test('the fixtures hold fcluster results for monotone and non-monotone (centroid, median) linkages', (t) => {
  t.true(withCuts.length >= 20)
  t.true(withCuts.some((c) => c.method === 'centroid'))
})

for (const c of withCuts) {
  test(`cutTree equals scipy fcluster ('distance' and 'maxclust'): ${c.name}`, (t) => {
    const Z = new Float64Array(c.Z)
    for (const { t: threshold, T } of c.distance!) {
      t.deepEqual(Array.from(cutTree(Z, c.n, { distance: threshold })), T, `distance ${threshold}`)
    }
    for (const { k, T } of c.maxclust!) {
      t.deepEqual(Array.from(cutTree(Z, c.n, { clusters: k })), T, `maxclust ${k}`)
    }
  })

  test(`leafOrder equals scipy's leaves_list and dendrogram leaves: ${c.name}`, (t) => {
    const order = Array.from(leafOrder(new Float64Array(c.Z), c.n))
    t.deepEqual(order, c.leaves)
    t.deepEqual(order, c.dendrogramLeaves)
  })
}

test('levels: nested cuts, finest first, with parents in the level above, equal to fcluster - 1', (t) => {
  const c = fixtures.cases.find((x) => x.name === 'blobs-offset-120x8/euclidean/ward')!
  const Z = new Float64Array(c.Z)
  const thresholds = c.distance!.map((x) => x.t)
  const out = levels(Z, c.n, [...thresholds].reverse())
  t.deepEqual(out.map((l) => l.threshold), [...new Set(thresholds)].sort((a, b) => a - b))
  for (const level of out) {
    const T = c.distance!.find((x) => x.t === level.threshold)!.T
    t.deepEqual(Array.from(level.assignment), T.map((v) => v - 1))
    t.is(level.clusters, Math.max(...T))
    t.is(level.sizes.reduce((a, b) => a + b, 0), c.n)
  }
  for (let l = 0; l + 1 < out.length; l++) {
    const parent = out[l].parent!
    t.is(parent.length, out[l].clusters)
    for (let i = 0; i < c.n; i++) t.is(parent[out[l].assignment[i]], out[l + 1].assignment[i])
  }
  t.is(out[out.length - 1].parent, null)
  t.is(out[out.length - 1].clusters, 1)
})

test('levels on three blobs: the middle cut finds the three blobs', async (t) => {
  const c = fixtures.cases.find((x) => x.name === 'blobs-offset-120x8/euclidean/ward')!
  const Z = await linkage(new Float64Array(fixtures.inputs[c.input]), c.n, c.d, { method: 'ward' })
  const top = Z[4 * (c.n - 2) + 2]
  const [fine, mid, coarse] = levels(Z, c.n, [top * 0.05, top * 0.5, top * 1.01])
  t.is(coarse.clusters, 1)
  t.true(mid.clusters >= 2 && mid.clusters <= 3)
  t.true(fine.clusters > mid.clusters)
  t.deepEqual(Array.from(coarse.sizes), [120])
})

test('cutTree and levels reject bad arguments with messages that name them', (t) => {
  const c = fixtures.cases.find((x) => x.name === 'gauss-60x5/euclidean/average')!
  const Z = new Float64Array(c.Z)
  t.throws(() => cutTree(Z, c.n, {} as never), { instanceOf: TypeError, message: /exactly one of options.distance/ })
  t.throws(() => cutTree(Z, c.n, { distance: 1, clusters: 2 } as never), { instanceOf: TypeError })
  t.throws(() => cutTree(Z, c.n, { clusters: 0 }), { instanceOf: RangeError, message: /options.clusters/ })
  t.throws(() => cutTree(Z, c.n + 1, { clusters: 2 }), { instanceOf: RangeError, message: /linkage has length/ })
  t.throws(() => cutTree(new Float32Array(4) as never, 2, { clusters: 1 }), { instanceOf: TypeError, message: /Float64Array/ })
  const broken = Z.slice()
  broken[0] = 500
  t.throws(() => cutTree(broken, c.n, { clusters: 2 }), { instanceOf: RangeError, message: /row 0 refers to node 500/ })
  const wrongSize = Z.slice()
  wrongSize[3] = 7
  t.throws(() => cutTree(wrongSize, c.n, { clusters: 2 }), { instanceOf: RangeError, message: /row 0 has size 7/ })
  t.throws(() => levels(Z, c.n, []), { instanceOf: RangeError, message: /thresholds/ })
  t.throws(() => levels(Z, c.n, [1, Number.NaN]), { instanceOf: TypeError, message: /thresholds\[1\]/ })
})

test('dendrogramSvg draws one path per merge and labels every leaf in leaf order', (t) => {
  const c = fixtures.cases.find((x) => x.name === 'collinear-ties-7x1/euclidean/single')!
  const Z = new Float64Array(c.Z)
  const labels = ['a', 'b', 'c', 'd', 'e', 'f', 'g<&>']
  const svg = dendrogramSvg(Z, c.n, { labels, title: 'seven points', cutAt: 1 })
  t.true(svg.startsWith('<svg'))
  t.is((svg.match(/M[\d.]+,[\d.]+V[\d.]+H[\d.]+V[\d.]+/g) ?? []).length, c.n - 1)
  t.true(svg.includes('g&lt;&amp;&gt;'))
  const order = Array.from(leafOrder(Z, c.n))
  const texts = [...svg.matchAll(/rotate\(60[^>]*>([^<]*)</g)].map((m) => m[1])
  t.deepEqual(texts, order.map((i) => labels[i].replace('<&>', '&lt;&amp;&gt;')))
  t.throws(() => dendrogramSvg(Z, c.n, { labels: ['x'] }), { instanceOf: RangeError, message: /options.labels/ })
})

test('dendrogramPng renders a PNG through @resvg/resvg-js', async (t) => {
  const c = fixtures.cases.find((x) => x.name === 'gauss-60x5/euclidean/ward')!
  const png = await dendrogramPng(new Float64Array(c.Z), c.n, { title: 'ward, 60 points' })
  t.deepEqual(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  t.true(png.length > 1000)
})
