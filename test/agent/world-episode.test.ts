import test from 'ava'
import { DEFAULT_TEMPLATE, promptVocabularyTexts } from '../../lib/agent/prompt.js'
import { generateDemonstrations, oracleTurns } from '../../lib/agent/demonstrations.js'
import { evaluateRollouts } from '../../lib/agent/evaluate.js'
import { makeReward } from '../../lib/agent/reward.js'
import { generateArithmetic } from '../../lib/env/arithmetic.js'
import { generateWorld, worldTexts } from '../../lib/env/world.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { WordTokenizer } from './helpers.js'

const world = generateWorld({ seed: 11 })
const retriever = Bm25Retriever.build(world.corpus)
const options = { topk: 3, maxTurns: 5, maxTurnTokens: 32, maxTotalTokens: 2048, maxInfoTokens: 512 }

test('oracle demonstrations solve 1- to 4-hop questions through BM25 and the rollout loop', async (t) => {
  const tokenizer = new WordTokenizer()
  for (const text of [...promptVocabularyTexts(DEFAULT_TEMPLATE, 3), ...worldTexts(world)]) tokenizer.encode(text)
  const questions = world.questions.test
  const rollouts = await generateDemonstrations(questions, retriever, tokenizer, options)
  const reward = makeReward({ formatWeight: 0.1 })
  let found = 0
  let hops = 0
  rollouts.forEach((r, i) => {
    const q = questions[i]
    t.is(r.finish, 'answer', q.question)
    t.is(r.searchCalls, q.hops!)
    t.is(reward(r, q.goldAnswers).total, 1.1)
    // The generated (mask 1) segments are exactly the oracle's turns.
    t.deepEqual(r.turns.map((x) => tokenizer.decode(r.tokens.slice(...x.span))), oracleTurns(q))
    r.turns.slice(0, q.hops).forEach((turn, h) => {
      hops++
      if (turn.passageIds!.includes(q.evidence![h])) found++
    })
  })
  t.log(`${rollouts.length} questions; the gold passage is in the top 3 for ${found}/${hops} hops`)
  t.true(found / hops >= 0.9)
  const ev = evaluateRollouts(rollouts, questions)
  t.is(ev.em, 1)
  t.is(ev.f1, 1)
  t.is(ev.finish.answer, 1)
  t.is(ev.repeatedQueryShare, 0)
  t.deepEqual(Object.keys(ev.byHops), ['1', '2', '3', '4'])
  for (const h of ['1', '2', '3', '4']) t.is(ev.byHops[h].searchCalls, Number(h))
})

test('arithmetic demonstrations answer directly; evaluation reports by data source', async (t) => {
  const tokenizer = new WordTokenizer()
  const arith = generateArithmetic({ seed: 2 }).test.slice(0, 20)
  const mixed = [...arith, ...world.questions.test.slice(0, 20)]
  const rollouts = await generateDemonstrations(mixed, retriever, tokenizer, options, { think: true })
  t.true(rollouts.slice(0, 20).every((r) => r.searchCalls === 0 && r.finish === 'answer' && r.turns[0].hasThink))
  const ev = evaluateRollouts(rollouts, mixed)
  t.deepEqual(Object.keys(ev.byDataSource), ['hiexp-arithmetic', 'hiexp-world'])
  t.is(ev.byDataSource['hiexp-arithmetic'].searchCalls, 0)
  t.is(ev.em, 1)
  // A wrong answer, a repeated query: the measures move as they should.
  const wrong = { ...rollouts[0], answer: 'nope', queries: ['a', 'A', 'b'] }
  const e2 = evaluateRollouts([wrong], [mixed[0]])
  t.is(e2.em, 0)
  t.is(e2.repeatedQueryShare, 1 / 3)
  t.throws(() => evaluateRollouts(rollouts, mixed.slice(1)), { instanceOf: RangeError })
})

test('demonstrations can carry experiences in the prompt slot; the oracle turns stay the same', async (t) => {
  const tokenizer = new WordTokenizer()
  const questions = world.questions.test.slice(0, 3)
  const advice = 'Experience from earlier attempts: search each hop in order.'
  const rollouts = await generateDemonstrations(questions, retriever, tokenizer, options, { experiences: [advice, undefined, ''] })
  const prompts = rollouts.map((r) => tokenizer.decode(r.tokens.slice(0, r.promptLength)))
  t.true(prompts[0].includes('search each hop in order'))
  t.false(prompts[1].includes('search each hop in order'))
  t.false(prompts[2].includes('search each hop in order'))
  rollouts.forEach((r, i) => {
    t.is(r.finish, 'answer')
    t.deepEqual(r.turns.map((x) => tokenizer.decode(r.tokens.slice(...x.span))), oracleTurns(questions[i]))
    t.true(r.mask.slice(0, r.promptLength).every((m) => m === 0), 'the experience text is prompt: never trained on')
  })
  await t.throwsAsync(generateDemonstrations(questions, retriever, tokenizer, options, { experiences: [advice] }), {
    instanceOf: RangeError,
    message: /options.experiences has 1 entries for 3 examples/,
  })
})

test('flawed demonstrations stop the chain early and answer the entity reached so far', (t) => {
  const q = world.questions.test.find((x) => x.hops === 3)!
  t.is(oracleTurns(q).length, 4)
  t.deepEqual(oracleTurns(q, { stopAfter: 3 }), oracleTurns(q))
  const one = oracleTurns(q, { stopAfter: 1 })
  t.deepEqual(one.slice(0, 1), oracleTurns(q).slice(0, 1))
  t.is(one[1], `<answer> ${q.chain![1]} </answer>`)
  t.deepEqual(oracleTurns(q, { stopAfter: 0 }), [`<answer> ${q.chain![0]} </answer>`])
  t.not(q.chain![1], q.goldAnswers[0])
})
