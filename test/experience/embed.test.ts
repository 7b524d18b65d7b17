import test from 'ava'
import { cosine, randomizedSvd, TfidfSvdEmbedder } from '../../lib/experience/embed.js'
import { sampleExperiences } from './helpers.js'
import { generateWorld } from '../../lib/env/world.js'
import { stemmedTerms } from '../../lib/experience/text.js'

test('randomized SVD recovers the right singular vectors of a low-rank matrix', (t) => {
  // X = a ⊗ u + b ⊗ v (rank 2) in 6 dimensions, as sparse rows.
  const u = [1, 1, 0, 0, 0, 0].map((x) => x / Math.SQRT2)
  const v = [0, 0, 1, 1, 1, 0].map((x) => x / Math.sqrt(3))
  const rows = Array.from({ length: 12 }, (_, i) => {
    const a = 3 + (i % 4)
    const b = i % 3
    const dense = u.map((x, j) => a * x + b * v[j])
    const idx = dense.flatMap((x, j) => (x !== 0 ? [j] : []))
    return { idx: Int32Array.from(idx), val: Float64Array.from(idx.map((j) => dense[j])) }
  })
  const C = randomizedSvd(rows, 6, 2, 1, 4)
  const c0 = Array.from(C.subarray(0, 6))
  const c1 = Array.from(C.subarray(6, 12))
  // Orthonormal rows spanning span{u, v}.
  t.true(Math.abs(cosine(c0, c0) - 1) < 1e-9)
  t.true(Math.abs(c0.reduce((s, x, j) => s + x * c1[j], 0)) < 1e-9)
  for (const c of [c0, c1]) {
    const pu = c.reduce((s, x, j) => s + x * u[j], 0)
    const pv = c.reduce((s, x, j) => s + x * v[j], 0)
    t.true(Math.abs(pu * pu + pv * pv - 1) < 1e-9, 'in the span')
  }
  // The top component is u's direction (the larger singular value), sign fixed positive.
  t.true(Math.abs(cosine(c0, u)) > 0.9)
  t.true(Math.max(...c0) >= Math.abs(Math.min(...c0)))
})

test('TF-IDF + SVD: deterministic, normalised, and a fitted text folds in to its own vector', async (t) => {
  const texts = sampleExperiences().map((e) => e.text)
  const a = new TfidfSvdEmbedder()
  const va = await a.fit(texts)
  const vb = await new TfidfSvdEmbedder().fit(texts)
  t.deepEqual(va, vb)
  t.is(a.dim, 8)
  for (const v of va) t.true(Math.abs(Math.hypot(...v) - 1) < 1e-5)
  const again = await a.embed([texts[3]])
  t.true(cosine(again[0], va[3]) > 0.9999)
  // Same-theme texts are closer than different-theme texts.
  t.true(cosine(va[0], va[1]) > cosine(va[0], va[15]))
  // State round trip.
  const restored = TfidfSvdEmbedder.fromState(a.state() as never)
  const r = await restored.embed([texts[3]])
  t.true(cosine(r[0], va[3]) > 0.9999)
  // Unknown words embed to zero (no similarity to anything), not NaN.
  const [z] = await a.embed(['zzz qqq'])
  t.true(z.every((x) => x === 0))
})

test('fitted with the corpus and the questions, the space keeps the names apart: "North Norwick city in" is not "Brisk Bay city in"', async (t) => {
  const world = generateWorld({ seed: 0 })
  const places = world.entities.filter((e) => e.kind === 'city').map((e) => e.name)
  t.true(places.length >= 2)
  const [a, b] = places
  // What a HEK of a few dozen cases is fitted on: titles of other entities with the relation words.
  // (None shares a word with the two names, as in the seed-0 HEK whose titles named ~50 other entities.)
  const own = new Set(stemmedTerms(`${a} ${b}`))
  const titles = world.entities
    .filter((e) => !stemmedTerms(e.name).some((w) => own.has(w)))
    .slice(0, 50)
    .map((e, i) => `${e.name} ${['city in', 'born', 'founded', 'married'][i % 4]}`)
  const alone = new TfidfSvdEmbedder()
  await alone.fit(titles)
  const [xa, xb] = await alone.embed([`${a} city in`, `${b} city in`])
  t.log(`fitted on ${titles.length} titles alone (dim ${alone.dim}): cos = ${cosine(xa, xb).toFixed(3)}`)
  t.true(cosine(xa, xb) > 0.99, 'the defect: words outside the titles vanish')

  const background = [...world.corpus.map((p) => p.contents), ...world.questions.train.map((q) => q.question)]
  const wide = new TfidfSvdEmbedder()
  const fitted = await wide.fit(titles, { background })
  t.is(fitted.length, titles.length, 'background texts get no vector')
  t.is(wide.backgroundTexts, background.length)
  const [ya, yb, yc] = await wide.embed([`${a} city in`, `${b} city in`, `${a} is a city in`])
  t.log(`fitted with ${background.length} background texts (dim ${wide.dim}): cos = ${cosine(ya, yb).toFixed(3)}; same name, other wording ${cosine(ya, yc).toFixed(3)}`)
  t.true(cosine(ya, yb) < 0.8)
  t.true(cosine(ya, yc) > cosine(ya, yb))
  // Over every pair of neighbouring cities, the same words after different names are far from one another.
  const sims: number[] = []
  for (let i = 0; i + 1 < places.length; i++) {
    const [p, q] = await wide.embed([`${places[i]} city in`, `${places[i + 1]} city in`])
    sims.push(cosine(p, q))
  }
  const meanSim = sims.reduce((x, y) => x + y, 0) / sims.length
  t.log(`mean over ${sims.length} pairs of cities: ${meanSim.toFixed(3)}`)
  t.true(meanSim < 0.35)
})
