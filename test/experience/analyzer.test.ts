import test from 'ava'
import { ContrastiveAnalyzer } from '../../lib/experience/analyzer.js'
import { PromptDistiller } from '../../lib/experience/llm.js'
import { groupTrajectories, type TrajectoryGroup } from '../../lib/experience/types.js'
import { group, plantedGroups, traj } from './helpers.js'

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

/**
 * Simpson's paradox by hop count: 1-hop questions are easy and their attempts paste the question, 2-hop ones are hard
 * and theirs mostly do not. Within each hop count pasting loses; pooled across them it looks like it wins. (Each
 * question's attempts all paste or all do not, so the within-question estimate has nothing to say.)
 */
function confoundedGroups(): TrajectoryGroup[] {
  const groups: TrajectoryGroup[] = []
  const make = (hops: number, paste: boolean, n: number, wins: number, from: number) => {
    let left = wins
    for (let i = 0; i < n; i++) {
      const k = from + i
      const question = hops === 1 ? `Where was Person${k} Smith born?` : `Where was the founder of Company${k} born?`
      const query = paste ? question.replace(/\?$/, '') : hops === 1 ? `Smith${k} birthplace` : `Company${k} founded`
      const ts = Array.from({ length: 5 }, (_, j) => {
        const ok = left > 0
        if (ok) left--
        return traj(`h${hops}q${k}`, question, [{ query, info: `Doc about ${k}.` }, { answer: ok ? `City${k}` : 'Nowhere' }], { reward: ok ? 1 : 0, hops, gold: [`City${k}`], id: `h${hops}q${k}#${j}` })
      })
      groups.push(group(ts))
    }
  }
  make(1, true, 8, 34, 0) // 40 attempts, 85 % win
  make(1, false, 2, 10, 8) // 10 attempts, all win
  make(2, true, 2, 0, 10) // 10 attempts, none wins
  make(2, false, 8, 12, 12) // 40 attempts, 30 % win
  return groups
}

test('features are scored within a hop count, not across: a confound that flips the sign does not make advice', async (t) => {
  const groups = confoundedGroups()
  const analyzer = new ContrastiveAnalyzer()
  const exps = await analyzer.distill(groups)
  const all = analyzer.lastStats.find((s) => s.feature === 'query-copies-question' && s.stratum === 'all')!
  t.log(`query-copies-question: crude LOR ${all.crudeLogOdds.toFixed(2)}, within hop counts ${all.pooledLogOdds.toFixed(2)} (z ${all.z.toFixed(2)})`)
  // The independent reference: the crude 2x2 table pooled across hop counts (a=34, b=22, c=16, d=28) is positive …
  t.true(Math.abs(all.crudeLogOdds - Math.log((34.5 * 28.5) / (22.5 * 16.5))) < 1e-9)
  t.true(all.crudeLogOdds > 0)
  // … the Mantel–Haenszel estimate over the two hop counts, by hand, is negative.
  const mh = Math.log(((34.5 * 0.5) / 52 + (0.5 * 28.5) / 52) / ((10.5 * 6.5) / 52 + (12.5 * 10.5) / 52))
  t.true(Math.abs(all.pooledLogOdds - mh) < 1e-9)
  t.true(all.pooledLogOdds < 0)
  t.false(exps.some((e) => e.kind === 'success-pattern' && /paste the whole question/i.test(e.text)), 'no advice to paste the question')
})

test('an effect that differs by hop count is withheld from the broad statement and given per hop count', async (t) => {
  // Building the next search on the previous results: 1-hop attempts that do it over-search and lose, 3-hop ones win;
  // 1-hop questions are the majority, so pooled it reads "do not build the next search on a name found".
  const groups: TrajectoryGroup[] = []
  for (let k = 0; k < 18; k++) {
    const hops = k < 12 ? 1 : 3
    const question = hops === 1 ? `Where was Person${k} Smith born?` : `Where was the founder of the owner of Company${k} born?`
    const ts = Array.from({ length: 6 }, (_, j) => {
      const follow = j % 2 === 0
      const ok = hops === 1 ? !follow : follow
      const steps = follow
        ? [{ query: `Company${k} owner`, info: `Company${k} is owned by Owner${k}.` }, { query: `Owner${k} founder`, info: `Owner${k} was founded by Founder${k}.` }, { query: `Founder${k} born`, info: `Founder${k} was born in City${k}.` }]
        : [{ query: `Company${k} owner`, info: `Company${k} is owned by Owner${k}.` }]
      return traj(`q${k}`, question, [...steps, { answer: ok ? `City${k}` : 'Nowhere' }], { reward: ok ? 1 : 0, hops, gold: [`City${k}`], id: `q${k}#${j}` })
    })
    groups.push(group(ts))
  }
  const analyzer = new ContrastiveAnalyzer()
  const exps = await analyzer.distill(groups)
  const stat = (stratum: string) => analyzer.lastStats.find((s) => s.feature === 'query-uses-evidence' && s.stratum === stratum)!
  t.true(stat('all').heterogeneous)
  t.false(stat('all').reported)
  t.false(exps.some((e) => e.id.startsWith('offline:query-uses-evidence:all')))
  t.is(exps.find((e) => e.id.startsWith('offline:query-uses-evidence:hops=1'))?.kind, 'failure-pattern')
  t.is(exps.find((e) => e.id.startsWith('offline:query-uses-evidence:hops=3'))?.kind, 'success-pattern')
})

test('distillers never see the evidence chain: groups carry none, and what they write does not depend on it', async (t) => {
  const withChain = plantedGroups(24, 8, 7).flatMap((g) => g.trajectories)
  t.true(withChain.every((r) => r.chain !== undefined))
  const withoutChain = withChain.map(({ chain: _chain, ...r }) => r)
  const groups = groupTrajectories(withChain)
  t.false(JSON.stringify(groups).includes('"chain"'))
  const a = await new ContrastiveAnalyzer().distill(groups)
  const b = await new ContrastiveAnalyzer().distill(groupTrajectories(withoutChain))
  t.deepEqual(a, b)
  t.true(a.length > 0)
  // The prompt-based distillers' prompts are the same too.
  const generator = { id: 'spy', complete: async (prompts: readonly string[]) => prompts.map(() => '{"experiences": []}') }
  t.deepEqual(new PromptDistiller(generator).prompts(groups), new PromptDistiller(generator).prompts(groupTrajectories(withoutChain)))
})
