// The bottleneck world (the phrasings option): questions are asked in several phrasings per hop while the corpus
// keeps one canonical sentence per fact, some phrasings are held out of the warm start, and the warm start's own
// reserved words appear in no world question. Checked against the world without the option (same seed).
import test from 'ava'
import { generateWorld } from '../../lib/env/world.js'
import { PHRASING_NOUNS, WARM_START_WORDS, phrasingTable } from '../../lib/env/world_phrasings.js'

const base = { seed: 4, hops: [2, 3], questionsPerHop: 120 }
const plain = generateWorld(base)
const phrased = generateWorld({ ...base, phrasings: { perRelation: 3, heldOut: 1 } })
const all = (w: typeof plain) => [...w.questions.train, ...w.questions.validation, ...w.questions.test]

test('the corpus, the chains and the splits are those of the world without phrasings: only question texts change', (t) => {
  t.deepEqual(phrased.corpus, plain.corpus)
  t.deepEqual(all(phrased).map((q) => [q.id, q.chain, q.relations, q.goldAnswers]), all(plain).map((q) => [q.id, q.chain, q.relations, q.goldAnswers]))
  t.true(all(phrased).some((q, i) => q.question !== all(plain)[i].question))
  t.is(plain.questions.train[0].phrasings, undefined)
})

test('each question records one phrasing per hop, is held out exactly when one of them is, and reads its words', (t) => {
  const table = phrasingTable({ perRelation: 3, heldOut: 1 })
  const heldOut = new Set([...table.values()].flatMap((ps) => ps.filter((p) => p.heldOut).map((p) => p.key)))
  // The last noun of each hop is its held-out phrasing.
  t.deepEqual([...heldOut].sort(), Object.entries(PHRASING_NOUNS).map(([hop, nouns]) => `${hop}/${nouns[1]}`).sort())
  for (const q of all(phrased)) {
    t.is(q.phrasings!.length, q.hops!)
    t.is(q.heldOutPhrasing, q.phrasings!.some((k) => heldOut.has(k)))
    for (const key of q.phrasings!) {
      const [hop, word] = key.split('/')
      if (word !== hop) t.true(q.question.includes(` ${word} of `), `${q.question} asks by '${word}'`)
    }
  }
  const share = all(phrased).filter((q) => q.heldOutPhrasing).length / all(phrased).length
  t.true(share > 0.3 && share < 0.8, `held-out share ${share}`)
  for (const split of ['train', 'validation', 'test'] as const) t.true(phrased.questions[split].some((q) => q.heldOutPhrasing), split)
})

test('no phrasing noun or reserved warm-start word is a word of the corpus; reserved words are in no question', (t) => {
  const corpusWords = new Set(phrased.corpus.flatMap((p) => p.contents.toLowerCase().split(/[^a-z]+/)))
  for (const w of [...Object.values(PHRASING_NOUNS).flat(), ...WARM_START_WORDS]) t.false(corpusWords.has(w), w)
  const questionWords = new Set(all(phrased).flatMap((q) => q.question.toLowerCase().split(/[^a-z]+/)))
  for (const w of WARM_START_WORDS) t.false(questionWords.has(w), w)
})

test('phrasings are checked: heldOut must leave the warm start a phrasing of every hop', (t) => {
  t.throws(() => generateWorld({ phrasings: { perRelation: 2, heldOut: 2 } }), { message: /option phrasings\.heldOut: heldOut must be < perRelation/ })
  t.throws(() => generateWorld({ phrasings: { perRelation: 4 } }), { message: /option phrasings\.perRelation/ })
})
