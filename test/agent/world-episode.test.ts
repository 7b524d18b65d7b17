import test from 'ava'
import { DEFAULT_TEMPLATE, promptVocabularyTexts } from '../../lib/agent/prompt.js'
import { makeReward } from '../../lib/agent/reward.js'
import { runRollouts } from '../../lib/agent/rollout.js'
import { generateWorld } from '../../lib/env/world.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { ScriptedPolicy } from './helpers.js'

/** Words of each relation's fact sentence, used by the oracle to search for the next hop. */
const KEYWORD: Record<string, string> = {
  born_in: 'born', spouse_of: 'married', works_for: 'works for', founded_by: 'founded', headquartered_in: 'based',
  directed_by: 'directed', written_by: 'written', located_in: 'city in', capital_of: 'capital',
}

test('an oracle policy solves 1- to 4-hop questions of the world through BM25 and the rollout loop', async (t) => {
  const world = generateWorld({ seed: 11 })
  const questions = world.questions.test
  const byQuestion = new Map(questions.map((q) => [q.question, q]))
  // Follows the gold chain: hop i searches "<entity i> <relation words>", then answers the last entity.
  const policy = new ScriptedPolicy((seq) => {
    const line = seq.slice(seq.lastIndexOf('Question: '))
    const q = [...byQuestion.values()].find((x) => line.startsWith(`Question: ${x.question}`))!
    const turn = seq.slice(seq.lastIndexOf('Question: ')).split('</search>').length - 1
    if (turn < q.hops!) return `<think> hop ${turn + 1} </think> <search> ${q.chain![turn]} ${KEYWORD[q.relations![turn]]} </search>`
    return `<answer> ${q.chain!.at(-1)} </answer>`
  })
  // The tokenizer covers the template, tags and passage labels (the model's word-level tokenizer gets the same texts).
  for (const text of promptVocabularyTexts(DEFAULT_TEMPLATE, 3)) policy.tokenizer.encode(text)
  const retriever = Bm25Retriever.build(world.corpus)
  const { rollouts, timing } = await runRollouts(policy, retriever, questions.map((q) => ({ question: q.question })), {
    topk: 3,
    maxTurns: 5,
    maxTurnTokens: 32,
    maxTotalTokens: 2048,
    maxInfoTokens: 512,
  })
  const reward = makeReward({ formatWeight: 0.1, requireThink: false })
  let found = 0
  let hops = 0
  rollouts.forEach((r, i) => {
    const q = questions[i]
    t.is(r.finish, 'answer', q.question)
    t.is(r.searchCalls, q.hops!)
    t.is(reward(r, q.goldAnswers).total, 1.1)
    r.turns.slice(0, q.hops).forEach((turn, h) => {
      hops++
      if (turn.passageIds!.includes(q.evidence![h])) found++
    })
  })
  t.log(`${rollouts.length} questions, gold passage in the top 3 for ${found}/${hops} hops; generate ${timing.generateMs.toFixed(0)} ms, retrieve ${timing.retrieveMs.toFixed(0)} ms`)
  t.true(found / hops >= 0.9)
  t.is(timing.generateCalls, 5)
  t.is(timing.retrieveCalls, 4)
})
