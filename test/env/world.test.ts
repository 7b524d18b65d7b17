import test from 'ava'
import { generateWorld, worldVocabulary, type World } from '../../lib/env/world.js'
import { generateArithmetic } from '../../lib/env/arithmetic.js'
import { Random } from '../../lib/util/random.js'

const world = generateWorld({ seed: 7 })
const all = (w: World) => [...w.questions.train, ...w.questions.validation, ...w.questions.test]

test('the PRNG is deterministic per seed and uniform enough', (t) => {
  const a = new Random(42)
  const b = new Random(42)
  const xs = Array.from({ length: 1000 }, () => a.float())
  t.deepEqual(xs, Array.from({ length: 1000 }, () => b.float()))
  t.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => new Random(43).float()))
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  t.true(Math.abs(mean - 0.5) < 0.05)
  t.true(xs.every((x) => x >= 0 && x < 1))
})

test('the world is a pure function of its options', (t) => {
  t.deepEqual(generateWorld({ seed: 7 }), world)
  const other = generateWorld({ seed: 8 })
  t.notDeepEqual(other.corpus, world.corpus)
  t.notDeepEqual(other.questions.test, world.questions.test)
  t.deepEqual(generateArithmetic({ seed: 3 }), generateArithmetic({ seed: 3 }))
  t.notDeepEqual(generateArithmetic({ seed: 3 }).test, generateArithmetic({ seed: 4 }).test)
})

test('every question is answerable by following its gold chain through the corpus', (t) => {
  const byId = new Map(world.corpus.map((p) => [p.id, p.contents]))
  const questions = all(world)
  t.true(questions.length > 500)
  for (const q of questions) {
    const chain = q.chain!
    const evidence = q.evidence!
    t.is(evidence.length, q.hops!)
    t.is(chain.length, q.hops! + 1)
    t.true(q.question.includes(chain[0]), `${q.id}: the question names the start of the chain`)
    t.deepEqual(q.goldAnswers, [chain[chain.length - 1]])
    for (let i = 0; i < evidence.length; i++) {
      const text = byId.get(evidence[i])
      t.truthy(text, `${q.id}: evidence passage ${evidence[i]} exists`)
      // The hop's passage is a page of the current entity (its title) and names the next entity in a fact sentence.
      t.is(text!.split('\n')[0], chain[i], `${q.id}: hop ${i} passage is titled ${chain[i]}`)
      const sentences = text!.split('\n')[1].split(/(?<=\.) /)
      t.true(
        sentences.some((s) => s.includes(chain[i]) && s.includes(chain[i + 1]) && !/once|often|admired|praised|set in/.test(s)),
        `${q.id}: hop ${i} (${q.relations![i]}) is stated in passage ${evidence[i]}`,
      )
    }
  }
})

test('answers are unique: names are unique and every followed relation is functional', (t) => {
  const names = world.entities.map((e) => e.name)
  t.is(new Set(names).size, names.length)
  const functional = new Map<string, string>()
  for (const f of world.facts) {
    if (f.relation === 'spouse_of' || f.relation === 'capital_of') continue
    const key = `${f.relation}|${f.subject}`
    t.false(functional.has(key), `${key} has one object`)
    functional.set(key, f.object)
  }
  // Entities share name parts (the distractor structure the retriever has to cope with).
  const surnames = world.entities.filter((e) => e.kind === 'person').map((e) => e.name.split(' ')[1])
  t.true(new Set(surnames).size < surnames.length)
})

test('splits are disjoint, cover every hop count, and ids are unique', (t) => {
  const { train, validation, test: testSplit } = world.questions
  const text = (xs: typeof train) => new Set(xs.map((q) => q.question))
  const [a, b, c] = [text(train), text(validation), text(testSplit)]
  for (const q of b) t.false(a.has(q))
  for (const q of c) t.false(a.has(q) || b.has(q))
  const ids = all(world).map((q) => q.id)
  t.is(new Set(ids).size, ids.length)
  for (const hops of [1, 2, 3, 4]) {
    t.true(testSplit.some((q) => q.hops === hops), `test has ${hops}-hop questions`)
    t.true(train.some((q) => q.hops === hops), `train has ${hops}-hop questions`)
  }
  const arith = generateArithmetic({ seed: 1 })
  const at = text(arith.train)
  for (const q of [...arith.validation, ...arith.test]) t.false(at.has(q.question))
})

test('the default world is small: a few hundred words, a few hundred passages', (t) => {
  const vocab = worldVocabulary(world)
  t.true(vocab.size < 600, `vocabulary ${vocab.size}`)
  t.true(world.corpus.length >= world.entities.length)
  t.true(world.corpus.length < 1000)
  const sizes = generateWorld({ seed: 1, people: 200, cities: 60, organisations: 40, films: 40, books: 40, questionsPerHop: 2000 })
  t.true(worldVocabulary(sizes).size < 3000)
  t.true(all(sizes).length > all(world).length)
})

test('arithmetic problems have whole-number answers that the statements determine', (t) => {
  const { train } = generateArithmetic({ seed: 2 })
  for (const q of train) {
    const sentences = q.question.split(/(?<=[.?]) /)
    let v = Number(/has (\d+)/.exec(sentences[0])![1])
    for (const s of sentences.slice(1, -1)) {
      const k = Number(/(\d+)/.exec(s)?.[1])
      if (/buys|finds/.test(s)) v += k
      else if (/gives/.test(s)) v -= k
      else if (/twice/.test(s)) v *= 2
      else if (/three times/.test(s)) v *= 3
      else t.fail(`unknown step: ${s}`)
      t.true(v >= 0)
    }
    t.deepEqual(q.goldAnswers, [String(v)])
    t.is(q.taskType, 'arithmetic')
  }
})

test('bad options are rejected by name', (t) => {
  t.throws(() => generateWorld({ countries: 0 }), { instanceOf: RangeError, message: /option countries/ })
  t.throws(() => generateWorld({ countries: 8, cities: 4 }), { message: /cities must be >= countries/ })
  t.throws(() => generateWorld({ colour: 'red' } as never), { message: /colour|Unrecognized/ })
  t.throws(() => generateArithmetic({ maxValue: 3 }), { message: /option maxValue/ })
})
