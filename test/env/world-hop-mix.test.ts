// questionsPerHop as a list: one count per entry of `hops` (a hop mix), cut into the same stratified splits.
import test from 'ava'
import { generateWorld, type World } from '../../lib/env/world.js'

const countByHops = (w: World) => {
  const counts: Record<number, number> = {}
  for (const q of [...w.questions.train, ...w.questions.validation, ...w.questions.test]) counts[q.hops!] = (counts[q.hops!] ?? 0) + 1
  return counts
}

test('a hop mix gives each hop count its own number of questions, in every split in proportion', (t) => {
  const w = generateWorld({ seed: 2, hops: [1, 2, 3], questionsPerHop: [40, 80, 200], validationFraction: 0.1, testFraction: 0.2 })
  t.deepEqual(countByHops(w), { 1: 40, 2: 80, 3: 200 })
  const test3 = w.questions.test.filter((q) => q.hops === 3).length
  t.is(test3, 40) // 20% of 200
  t.is(w.questions.validation.filter((q) => q.hops === 1).length, 4) // 10% of 40
  // The order of hops does not matter: each count goes with its own hop count.
  t.deepEqual(countByHops(generateWorld({ seed: 2, hops: [3, 1], questionsPerHop: [200, 40] })), { 1: 40, 3: 200 })
})

test('a hop mix with one count per hop count equal to the number is the same world', (t) => {
  t.deepEqual(generateWorld({ seed: 5, hops: [1, 2], questionsPerHop: [30, 30] }).questions, generateWorld({ seed: 5, hops: [1, 2], questionsPerHop: 30 }).questions)
})

test('a count above what the graph has gives every question of that hop count', (t) => {
  const all = countByHops(generateWorld({ seed: 2, hops: [1], questionsPerHop: 100000 }))[1]
  t.is(countByHops(generateWorld({ seed: 2, hops: [1, 2], questionsPerHop: [100000, 5] }))[1], all)
})

test('a hop mix that does not match hops is rejected by name', (t) => {
  t.throws(() => generateWorld({ hops: [1, 2, 3], questionsPerHop: [10, 20] }), { message: /option questionsPerHop: .*one count per entry of hops/ })
  t.throws(() => generateWorld({ hops: [1, 1], questionsPerHop: [10, 20] }), { message: /option hops: .*must not repeat/ })
  t.throws(() => generateWorld({ hops: [1], questionsPerHop: [0] }), { message: /option questionsPerHop/ })
})
