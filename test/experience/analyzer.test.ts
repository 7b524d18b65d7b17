import test from 'ava'
import { ContrastiveAnalyzer } from '../../lib/experience/analyzer.js'
import { plantedGroups } from './helpers.js'

test('the analyzer finds planted patterns with the right polarity', async (t) => {
  const analyzer = new ContrastiveAnalyzer()
  const exps = await analyzer.distill(plantedGroups())
  const byFeature = new Map(exps.map((e) => [e.id.split(':')[1], e]))
  const named = byFeature.get('first-query-names-entity')
  t.truthy(named, 'naming the entity in the first search is found')
  t.is(named!.kind, 'success-pattern')
  t.regex(named!.text, /^Name the entity from the question in the first search\.$/)
  t.true(named!.successRate > 0.6)
  const early = byFeature.get('answer-before-evidence')
  t.truthy(early, 'answering before any search is found')
  t.is(early!.kind, 'failure-pattern')
  t.regex(early!.text, /^Do not answer before any search\.$/)
  t.true(early!.successRate < 0.2)
  t.is(byFeature.get('query-uses-evidence')?.kind, 'success-pattern')
  t.is(byFeature.get('hops-in-order')?.kind, 'success-pattern')
  // Every behaviour statement is backed by its counts and its sources (the E1 cases that follow them have no score:
  // test/experience/cases.test.ts).
  const statements = exps.filter((e) => e.origin === 'offline')
  t.true(statements.length >= 4)
  t.deepEqual(exps.slice(0, statements.length), statements, 'the statements come first')
  for (const e of statements) {
    t.true(e.support >= 3)
    t.true(e.sources.length > 0)
    t.true(Number.isFinite(e.score))
  }
  // Sorted by strength of separation.
  for (let i = 1; i < statements.length; i++) t.true(Math.abs(statements[i - 1].score!) >= Math.abs(statements[i].score!))
  const stats = analyzer.lastStats.find((s) => s.feature === 'first-query-names-entity' && s.stratum === 'all')!
  t.true(stats.mixedGroups >= 2)
  t.true(stats.withinLogOdds! > 0)
})

test('with outcomes independent of behaviour, the planted features are not reported', async (t) => {
  const groups = plantedGroups(24, 8, 11, { A: 0.4, B: 0.4, C: 0.4 })
  const exps = await new ContrastiveAnalyzer().distill(groups)
  const found = new Set(exps.map((e) => e.id.split(':')[1]))
  t.false(found.has('first-query-names-entity'))
  t.false(found.has('answer-before-evidence'))
})

test('strata: a pattern that holds only for one hop count is reported with that condition', async (t) => {
  // 2-hop questions: the planted pattern; 1-hop questions: answering at once is fine (succeeds), searching is neutral.
  const two = plantedGroups(16, 8, 3)
  const one = plantedGroups(16, 8, 5, { A: 0.5, B: 0.5, C: 0.9 }).map((g) => ({
    ...g,
    questionId: `one-${g.questionId}`,
    hops: 1,
    trajectories: g.trajectories.map((x) => ({ ...x, questionId: `one-${x.questionId}`, id: `one-${x.id}`, hops: 1 })),
  }))
  const exps = await new ContrastiveAnalyzer().distill([...two, ...one])
  const early = exps.filter((e) => e.id.startsWith('offline:answer-before-evidence:'))
  t.true(early.some((e) => e.when === '2-hop questions' && e.kind === 'failure-pattern'), JSON.stringify(early.map((e) => [e.id, e.when])))
  t.true(early.every((e) => e.id !== 'offline:answer-before-evidence:all:-' || e.when === 'any question'))
})

test('options are validated at the edge', (t) => {
  t.throws(() => new ContrastiveAnalyzer({ alpha: 0 }), { message: /alpha/ })
})
