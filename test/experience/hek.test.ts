import test from 'ava'
import * as hx from '../../lib/index.js'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_TEMPLATE, renderPrompt } from '../../lib/agent/prompt.js'
import { ContrastiveAnalyzer } from '../../lib/experience/analyzer.js'
import { HierarchicalExperience, type HekNode } from '../../lib/experience/hek.js'
import { formatHek, hekTreeSvg, writeHekPictures } from '../../lib/experience/show.js'
import { plantedGroups, sampleExperiences } from './helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'hiexp-hek-'))

function checkNesting(t: import('ava').ExecutionContext, hek: HierarchicalExperience, L: number) {
  t.is(hek.levelCount, L)
  for (let l = 0; l < L; l++) {
    for (const n of hek.level(l)) {
      t.is(n.level, l)
      if (l === L - 1) t.is(n.parent, null)
      else {
        const p = hek.node(n.parent!) as HekNode
        t.truthy(p, `parent of ${n.id} exists`)
        t.is(p.level, l + 1)
        t.true(p.children.includes(n.id))
      }
      if (l > 0) {
        t.true(n.children.length > 0)
        const sum = n.children.reduce((s, c) => s + hek.node(c)!.support, 0)
        t.true(Math.abs(sum - n.support) < 1e-9, `support of ${n.id} adds up`)
        t.true(n.successRate >= 0 && n.successRate <= 1)
      }
    }
    if (l > 0) t.true(hek.level(l).length <= hek.level(l - 1).length)
  }
  // Every tip reaches exactly one top node; total support is kept at every level.
  const total = hek.level(0).reduce((s, n) => s + n.support, 0)
  for (let l = 1; l < L; l++) t.true(Math.abs(hek.level(l).reduce((s, n) => s + n.support, 0) - total) < 1e-9)
}

test('levels nest: every node has its parent one level up and supports add up', async (t) => {
  const exps = sampleExperiences()
  const hek = await HierarchicalExperience.build(exps, { dedupeJaccard: 1 })
  checkNesting(t, hek, 3)
  t.is(hek.level(0).length, exps.length)
  t.true(hek.level(1).length > 1 && hek.level(1).length < exps.length)
  t.true(hek.level(2).length >= 1 && hek.level(2).length < hek.level(1).length)
  t.true(hek.level(2).every((n) => n.kind === 'principle'))
  // Similar wordings share a pattern (Ward on the title embeddings, cut at τ1): two "name the entity first" cases end
  // in the same E2, a "tag format" case elsewhere.
  t.is(hek.node('e0.0')!.parent, hek.node('e0.2')!.parent)
  t.not(hek.node('e0.0')!.parent, hek.node('e3.0')!.parent)
  t.is(hek.node('e3.0')!.parent, hek.node('e3.1')!.parent)
  t.deepEqual([...new Set(hek.level(1).map((n) => n.type))], ['E2'])
  t.deepEqual([...new Set(hek.level(2).map((n) => n.type))], ['E3'])
  const stats = hek.buildStats
  t.is(stats.tips, exps.length)
  t.true((stats.totalMs ?? 0) > 0)
})

test('explicit thresholds, other level counts, one experience, and duplicates', async (t) => {
  const exps = sampleExperiences()
  const two = await HierarchicalExperience.build(exps, { levels: 2, thresholds: [0.9] })
  checkNesting(t, two, 2)
  t.is(two.file.levels[1].threshold, 0.9)
  const four = await HierarchicalExperience.build(exps, { levels: 4 })
  checkNesting(t, four, 4)
  const one = await HierarchicalExperience.build([exps[0]])
  checkNesting(t, one, 3)
  const dup = await HierarchicalExperience.build([exps[0], { ...exps[0], id: 'copy', text: 'name the entity from the question in the FIRST search' }])
  t.is(dup.level(0).length, 1)
  t.is(dup.level(0)[0].support, exps[0].support * 2)
  await t.throwsAsync(HierarchicalExperience.build(exps, { thresholds: [0.5] }), { message: /thresholds must hold levels - 1 = 2/ })
  await t.throwsAsync(HierarchicalExperience.build([]), { message: /at least one/ })
})

test('save and load round-trip; retrieval is the same after loading', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const path = join(dir(), 'hek.json')
  hek.save(path)
  const back = HierarchicalExperience.load(path)
  t.deepEqual(back.toJSON(), JSON.parse(readFileSync(path, 'utf8')))
  t.deepEqual(back.toJSON().nodes.map((n) => n.id), hek.toJSON().nodes.map((n) => n.id))
  const q = 'Who is the spouse of the director of the film named in the question? search the entity first'
  const a = await hek.retrieve(q)
  const b = await back.retrieve(q)
  t.is(a.text, b.text)
  t.true(a.text.length > 0)
})

test('a corrupt HEK file gives a clear error naming the problem', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const d = dir()
  const good = JSON.parse(JSON.stringify(hek.toJSON()))
  const write = (name: string, value: unknown) => {
    const p = join(d, name)
    writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value))
    return p
  }
  const cases: Array<[string, unknown, RegExp]> = [
    ['truncated.json', JSON.stringify(good).slice(0, 200), /truncated\.json is not a valid HEK file: not JSON/],
    ['wrong-format.json', { ...good, format: 'something' }, /format is "something", expected "hiexp-hek"/],
    ['future.json', { ...good, version: 3 }, /version 3 is not supported \(this hiexp reads versions 1 and 2\)/],
    ['bad-field.json', { ...good, nodes: good.nodes.map((n: HekNode, i: number) => (i === 3 ? { ...n, support: 'many' } : n)) }, /nodes\.3\.support: Expected number/],
    ['orphan.json', { ...good, nodes: good.nodes.map((n: HekNode, i: number) => (i === 0 ? { ...n, parent: 'L1.999' } : n)) }, /parent L1\.999, which does not exist/],
    ['support.json', { ...good, nodes: good.nodes.map((n: HekNode) => (n.level === 1 ? { ...n, support: n.support + 5 } : n)) }, /support .* children add up to/],
    ['vector.json', { ...good, nodes: good.nodes.map((n: HekNode, i: number) => (i === 1 ? { ...n, vector: [1, 2] } : n)) }, /vector of 2 numbers/],
  ]
  for (const [name, value, re] of cases) {
    const e = t.throws(() => HierarchicalExperience.load(write(name, value)), undefined, name)
    t.regex(e!.message, re, name)
    t.true(e!.message.includes(name), `${name}: the message names the file`)
  }
  t.throws(() => HierarchicalExperience.load(join(d, 'missing.json')), { message: /cannot read the HEK file/ })
})

test('retrieval respects the token budget, with any token counter', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const q = 'Which tags and answer format should I use when I search the entity?'
  const full = await hek.retrieve(q, { k0: 5, budget: 10_000 })
  // The 5 most similar tips are all in the text: as tips, or as the identical summary line of an ancestor.
  const top5 = (await hek.similarities(await hek.embedQuery(q), 0))
    .sort((a, b) => b.similarity - a.similarity || b.node.support - a.node.support || (a.node.id < b.node.id ? -1 : 1))
    .slice(0, 5)
  for (const x of top5) t.true(full.text.includes(`- ${x.node.text}`), x.node.text)
  t.true(full.tips.length >= 3 && full.tips.length <= 5)
  // Upper levels come from the tips' ancestors (or the most similar principle); a summary whose text equals a line
  // already taken (an offline summary is its cluster's medoid) is not repeated.
  t.true(full.strategies.length + full.principles.length >= 1)
  const tipIds = new Set(full.tips.map((x) => x.node.id))
  for (const s of full.strategies) t.true(s.node.children.some((c) => tipIds.has(c)))
  const lines = full.text.split('\n').filter((l) => l.startsWith('- '))
  t.is(new Set(lines).size, lines.length)
  for (const budget of [0, 5, 12, 20, 35, 60, 120]) {
    const r = await hek.retrieve(q, { k0: 5, budget })
    t.true(r.tokens <= budget, `budget ${budget}: ${r.tokens}`)
    t.is(r.tokens, r.text === '' ? 0 : r.text.split(/\s+/).filter(Boolean).length)
  }
  const chars = (s: string) => Math.ceil(s.length / 4)
  const r = await hek.retrieve(q, { k0: 5, budget: 40, countTokens: chars })
  t.true(chars(r.text) <= 40)
  t.true(r.text.length > 0)
  t.is((await hek.retrieve(q, { budget: 0 })).text, '')
  // The most similar tip comes first and the tag-format theme wins for a question about tags.
  t.regex(full.tips[0].node.text, /tag/i)
  // Filter by task type prefers that family's tips.
  const multihop = await hek.retrieve(q, { k0: 2, taskType: 'multihop', budget: 10_000 })
  t.true(multihop.tips.every((x) => x.node.taskType === 'multihop'))
})

test('cross-task retrieval: a HEK of another task type is searched whole, its hop strata ignored', async (t) => {
  // Multi-hop experiences only, each tied to a hop count; the question is a 2-step arithmetic problem.
  const exps = sampleExperiences()
    .filter((e) => e.taskType === 'multihop')
    .map((e, i) => ({ ...e, hops: 1 + (i % 3), when: `${1 + (i % 3)}-hop questions` }))
  const hek = await HierarchicalExperience.build(exps)
  const q = 'Alda has 7 apples. Alda buys 5 more apples. How many apples does Alda have now? answer before searching'
  const cross = await hek.retrieve(q, { k0: 4, budget: 10_000, taskType: 'arithmetic', hops: 2 })
  const plain = await hek.retrieve(q, { k0: 4, budget: 10_000 })
  t.deepEqual(cross.tips.map((x) => x.node.id), plain.tips.map((x) => x.node.id))
  t.true(cross.tips.some((x) => x.node.hops !== 2), 'tips of other hop counts are eligible')
  // Within its own task type the hop filter still applies.
  const same = await hek.retrieve(q, { k0: 4, budget: 10_000, taskType: 'multihop', hops: 2 })
  t.true(same.tips.length > 0 && same.tips.every((x) => x.node.hops === 2))
})

test('an offline summary is the support-weighted medoid, counting the member\'s own support', (t) => {
  // Unit vectors with cos(A,B)=0.2, cos(A,C)=0.3, cos(B,C)=0.9 (approximately): A alone carries most of the support.
  const unit = (v: number[]) => Float32Array.from(v.map((x) => x / Math.hypot(...v)))
  const member = (text: string, support: number, v: number[]) => ({ text, support, vector: unit(v), kind: 'success-pattern' as const, when: 'any question', taskType: 'any' })
  const a = member('Name the entity from the question in the first search.', 400, [1, 0, 0])
  const b = member('Do not break the tag format.', 40, [0.2, 0.98, 0])
  const c = member('Close every tag.', 100, [0.3, 0.83, 0.47])
  // Scores: A 400 + 40·0.2 + 100·0.3 = 438; B 40 + 80 + 100·cos(B,C) ≈ 206; C 100 + 120 + 40·cos(B,C) ≈ 254.
  t.is(hx.medoid([a, b, c]), 0)
  t.is(hx.medoid([a, b, c], [1, 2]), 2, 'restricted to candidates, every member still weighs in')
  t.is(hx.offlineSummarizer.name, 'offline')
})

test('the rendered prompt carries the retrieved experiences', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const question = 'Where was the founder of Company3 born? search the entity'
  const r = await hek.retrieve(question, { budget: 80 })
  const prompt = renderPrompt(DEFAULT_TEMPLATE, { question, experiences: r.text })
  t.true(prompt.includes('Experience from earlier attempts:'))
  for (const x of [...r.tips, ...r.strategies, ...r.principles]) t.true(prompt.includes(`- ${x.node.text}`))
  t.true(prompt.indexOf('Experience from earlier attempts:') < prompt.indexOf(`Question: ${question}`))
  t.true(r.tips.length >= 1)
})

test('analyzer → HEK → retrieval on planted trajectories; dynamic update re-clusters into a new HEK', async (t) => {
  const groups = plantedGroups()
  const exps = await new ContrastiveAnalyzer().distill(groups)
  const hek = await HierarchicalExperience.build(exps)
  checkNesting(t, hek, 3)
  const r = await hek.retrieve('Where was the founder of Company99 born? Name the entity in the first search', { budget: 60 })
  t.regex(r.text, /Name the entity from the question in the first search/)
  // Cases of different questions with the same decision point are merged (support summed): fewer E1s than given.
  const before = hek.level(0).length
  t.true(before <= exps.length && before > exps.filter((e) => e.origin === 'offline').length)
  t.is(hek.level(0).reduce((s, n) => s + n.support, 0), exps.reduce((s, e) => s + e.support, 0))
  const more = await HierarchicalExperience.build(sampleExperiences())
  const updated = await hek.update(more.experiences())
  t.is(hek.level(0).length, before, 'the old HEK is unchanged')
  t.true(updated.level(0).length > before)
  checkNesting(t, updated, 3)
  const cost = updated.buildStats
  t.true(cost.totalMs! > 0 && cost.embedMs! >= 0 && cost.linkageMs! >= 0)
  t.is(cost.experiences, before + more.level(0).length)
})

test('printer and pictures', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const text = formatHek(hek)
  t.regex(text.split('\n')[0], /HEK v2 .*1\d cases, \d+ patterns, \d+ strateg(y|ies)/)
  for (const n of hek.nodes) t.true(text.includes(` ${n.id} (`), n.id)
  t.true(formatHek(hek, { minLevel: 1 }).split('\n').length < text.split('\n').length)
  t.true(hekTreeSvg(hek).startsWith('<svg'))
  const files = writeHekPictures(hek, join(dir(), 'hek'), { title: 'HEK' })
  t.is(files.length, 4)
  for (const f of files) t.true(existsSync(f))
  const png = readFileSync(files.find((f) => f.endsWith('.png'))!)
  t.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47])
})
