/**
 * End to end on the embedded world: real rollouts (the rollout loop, BM25 over the generated encyclopedia, the real
 * reward) by three behaviours — follow the gold chain hop by hop; paste the whole question as one query and answer
 * the first bridge entity; answer at once with the question's entity — go through the trajectory store, the offline
 * analyzer, the HEK and retrieval into a prompt. Nothing about success is scripted: the reward decides.
 */
import test from 'ava'
import { mkdtempSync } from 'node:fs'
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
import { recordFromRollout, TrajectoryStore } from '../../lib/experience/store.js'
import { groupTrajectories } from '../../lib/experience/types.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { WordTokenizer } from '../agent/helpers.js'

test('offline distillation finds what separates real successes from real failures in the embedded world', async (t) => {
  const world = generateWorld({ seed: 5 })
  const retriever = Bm25Retriever.build(world.corpus)
  const tokenizer = new WordTokenizer()
  for (const text of [...promptVocabularyTexts(DEFAULT_TEMPLATE, 3), ...worldTexts(world)]) tokenizer.encode(text)
  const questions = world.questions.train.filter((q) => q.chain && q.relations).slice(0, 40)
  t.true(questions.length >= 20)
  const behaviours: Record<string, (q: QaExample) => string[]> = {
    chain: (q) => oracleTurns(q),
    paste: (q) => [`<search> ${q.question} </search>`, `<answer> ${q.chain![1]} </answer>`],
    early: (q) => [`<answer> ${q.chain![0]} </answer>`],
  }
  const options = { topk: 3, maxTurns: 6, maxTurnTokens: 48, maxTotalTokens: 4096, maxInfoTokens: 512 }
  const reward = makeReward()
  const store = new TrajectoryStore(join(mkdtempSync(join(tmpdir(), 'hiexp-world-')), 'trajectories.jsonl'))
  // Two rollouts of "chain", two of "paste", one of "early" per question (a group of 5).
  const plan: Array<[string, number]> = [['chain', 2], ['paste', 2], ['early', 1]]
  let k = 0
  for (const [name, copies] of plan) {
    for (let c = 0; c < copies; c++) {
      const policy = new OraclePolicy(tokenizer)
      for (const q of questions) policy.add(renderPrompt(DEFAULT_TEMPLATE, { question: q.question }), behaviours[name](q))
      const { rollouts } = await runRollouts(policy, retriever, questions.map((q) => ({ question: q.question })), options)
      store.append(rollouts.map((r, i) => recordFromRollout(r, { example: questions[i], reward: reward(r, questions[i].goldAnswers), id: `${questions[i].id}#${name}${c}#${k++}` })))
    }
  }
  const groups = groupTrajectories(store.read())
  t.is(groups.length, questions.length)
  t.true(groups.every((g) => g.trajectories.length === 5))
  const ok = (name: string) => store.read().filter((r) => r.id.includes(`#${name}`)).map((r) => r.reward.total)
  const rate = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  t.log(`success: chain ${rate(ok('chain')).toFixed(2)}, paste ${rate(ok('paste')).toFixed(2)}, early ${rate(ok('early')).toFixed(2)}`)

  const analyzer = new ContrastiveAnalyzer()
  const exps = await analyzer.distill(groups)
  t.log(exps.map((e) => `${e.kind === 'success-pattern' ? '+' : '-'} ${e.text} (support ${e.support}, success ${e.successRate.toFixed(2)}, LOR ${e.score?.toFixed(2)})`).join('\n'))
  const get = (f: string) => exps.find((e) => e.id.startsWith(`offline:${f}:all:`))
  t.is(get('hops-in-order')?.kind, 'success-pattern')
  t.is(get('answer-before-evidence')?.kind, 'failure-pattern')
  // Scored within each hop count: pasting the question answers a 1-hop question and fails every longer one, so there
  // is no statement for all questions, only one per hop count.
  t.is(get('query-copies-question'), undefined)
  t.true(analyzer.lastStats.find((s) => s.feature === 'query-copies-question' && s.stratum === 'all')!.heterogeneous)
  for (const h of [2, 3, 4]) t.is(exps.find((e) => e.id.startsWith(`offline:query-copies-question:hops=${h}:`))?.kind, 'failure-pattern')

  const hek = await HierarchicalExperience.build(exps)
  const q = world.questions.test.find((x) => (x.hops ?? 0) >= 2)!
  const r = await hek.retrieve(q.question, { budget: 60, taskType: q.taskType, hops: q.hops, countTokens: (s) => tokenizer.encode(s).length })
  t.true(r.tokens <= 60)
  const prompt = renderPrompt(DEFAULT_TEMPLATE, { question: q.question, experiences: r.text })
  t.true(r.tips.length >= 1)
  for (const x of r.tips) t.true(prompt.includes(x.node.text))
  // Experiences restricted to another hop count are not offered.
  t.false(prompt.includes('For 1-hop questions'))
  const hop1 = world.questions.test.find((x) => x.hops === 1)!
  const r1 = await hek.retrieve(hop1.question, { budget: 200, k0: 10, hops: 1 })
  t.true([...r1.tips, ...r1.strategies, ...r1.principles].every((x) => x.node.hops === undefined || x.node.hops === 1))
  t.log(prompt)
})
