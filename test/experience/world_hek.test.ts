/**
 * A HEK built from real rollouts in the embedded world (the rollout loop, BM25 over the generated encyclopedia, the
 * real reward) by scripted behaviours — follow the gold chain; stop after the first hop and answer what it found;
 * paste the whole question — checked for what the issue found wrong with the seed-0 HEKs: patterns and strategies that
 * name other questions' entities, and search-time cases of the wrong relation.
 */
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OraclePolicy, oracleTurns } from '../../lib/agent/demonstrations.js'
import { DEFAULT_TEMPLATE, promptVocabularyTexts, renderPrompt } from '../../lib/agent/prompt.js'
import { makeReward } from '../../lib/agent/reward.js'
import { runRollouts } from '../../lib/agent/rollout.js'
import { generateWorld, worldTexts } from '../../lib/env/world.js'
import type { QaExample } from '../../lib/env/types.js'
import { ContrastiveAnalyzer } from '../../lib/experience/analyzer.js'
import { HierarchicalExperience } from '../../lib/experience/hek.js'
import { precisionStats, retrievalPrecision } from '../../lib/experience/precision.js'
import { formatHek } from '../../lib/experience/show.js'
import { recordFromRollout } from '../../lib/experience/store.js'
import { groupTrajectories, type TrajectoryRecord } from '../../lib/experience/types.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { WordTokenizer } from '../agent/helpers.js'

test('a HEK built from the world: E2/E3 name no entity of any train question, E1 speak in roles, and its retrieval precision is in hek.json', async (t) => {
  const world = generateWorld({ seed: 3 })
  const retriever = Bm25Retriever.build(world.corpus)
  const tokenizer = new WordTokenizer()
  for (const text of [...promptVocabularyTexts(DEFAULT_TEMPLATE, 3), ...worldTexts(world)]) tokenizer.encode(text)
  const questions = world.questions.train.filter((q) => q.chain && q.relations && (q.hops ?? 0) >= 2).slice(0, 30)
  t.true(questions.length >= 20)
  const behaviours: Array<[string, (q: QaExample) => string[]]> = [
    ['chain', (q) => oracleTurns(q)],
    ['stop', (q) => oracleTurns(q, { stopAfter: 1 })],
    ['paste', (q) => [`<search> ${q.question} </search>`, `<answer> ${q.chain![1]} </answer>`]],
  ]
  const options = { topk: 3, maxTurns: 6, maxTurnTokens: 48, maxTotalTokens: 4096, maxInfoTokens: 512 }
  const reward = makeReward()
  const records: TrajectoryRecord[] = []
  for (const [name, turns] of behaviours) {
    const policy = new OraclePolicy(tokenizer)
    for (const q of questions) policy.add(renderPrompt(DEFAULT_TEMPLATE, { question: q.question }), turns(q))
    const { rollouts } = await runRollouts(policy, retriever, questions.map((q) => ({ question: q.question })), options)
    records.push(...rollouts.map((r, i) => recordFromRollout(r, { example: questions[i], reward: reward(r, questions[i].goldAnswers), id: `${questions[i].id}#${name}` })))
  }
  const experiences = await new ContrastiveAnalyzer().distill(groupTrajectories(records))
  const fitTexts = [...world.corpus.map((p) => p.contents), ...world.questions.train.map((q) => q.question)]
  let hek = await HierarchicalExperience.build(experiences, { fitTexts })
  t.true(hek.level(1).length >= 2)

  // Every name of every train question's chain (its entity, the bridges, the answer).
  const names = [...new Set(world.questions.train.flatMap((q) => q.chain ?? []))]
  const named = (text: string) => names.filter((n) => new RegExp(`(?<![\\p{L}\\p{N}])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'u').test(text))
  for (let l = 1; l < hek.levelCount; l++) {
    for (const n of hek.level(l)) t.deepEqual(named(`${n.title} ${n.text}`), [], `${n.type} ${n.id}: ${n.text}`)
  }
  const cases = hek.level(0).filter((n) => n.origin === 'offline-case')
  t.true(cases.length > 0)
  for (const n of cases) t.deepEqual(named(`${n.title} ${n.text} ${n.question ?? ''}`), [], `E1 ${n.id}: ${n.text}`)
  t.true(cases.some((n) => n.text.includes("[the question's entity]")))
  t.true(cases.some((n) => n.text.includes('[the name found in step 1]')))
  // Cases of different questions with one structure became one case (their role forms are equal).
  t.true(cases.some((n) => n.sources.filter((s) => s.startsWith('world-')).length > 1))

  // Retrieval precision, replayed on the train split's gold queries, is kept in the HEK file and printed.
  const p = await retrievalPrecision(hek, world.questions.train)
  t.log(`retrieval precision: ${p.precise}/${p.fired} fired of ${p.replayed} replayed`)
  t.true(p.replayed > 0)
  t.true(p.fired > 0)
  // Matched on the question as well as the query, a case fires only on its own hop of its own question type.
  t.true((p.precision ?? 0) >= 0.9)
  hek = hek.withBuildStats(precisionStats(p))
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-world-hek-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  hek.save(join(dir, 'hek.json'))
  const back = HierarchicalExperience.load(join(dir, 'hek.json'))
  t.is(back.buildStats.retrievalPrecision, p.precision)
  t.is(back.buildStats.retrievalFired, p.fired)
  t.regex(formatHek(back), /retrieval precision \d+%: of \d+ gold queries of the train split replayed, \d+ got a case, \d+ of the query's relation/)
})
