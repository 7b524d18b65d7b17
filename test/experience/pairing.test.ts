import test from 'ava'
import { contrastGroup, contrastivePairs } from '../../lib/experience/pairing.js'
import { group, traj } from './helpers.js'

const Q = 'Where was the founder of Acme born?'

test('mixed groups pair the most similar success and failure first, up to k', (t) => {
  const s1 = traj('q', Q, [{ query: 'Acme founded', info: 'Acme was founded by Bob.' }, { query: 'Bob born', info: 'Bob was born in Rome.' }, { answer: 'Rome' }], { reward: 1, id: 's1' })
  const s2 = traj('q', Q, [{ query: 'Acme founder birthplace', info: '…' }, { answer: 'Rome' }], { reward: 1, id: 's2' })
  const f1 = traj('q', Q, [{ query: 'Acme founded', info: 'Acme was founded by Bob.' }, { answer: 'Acme' }], { reward: 0, id: 'f1' })
  const f2 = traj('q', Q, [{ answer: 'Paris' }], { reward: 0, id: 'f2' })
  const c = contrastGroup(group([s1, s2, f1, f2]), { k: 2 })
  t.deepEqual(c.successes.map((x) => x.id), ['s1', 's2'])
  t.deepEqual(c.failures.map((x) => x.id), ['f1', 'f2'])
  t.is(c.pairs.length, 2)
  // s1 and f1 share the first search: the most similar pair comes first.
  t.is(c.pairs[0].success.id, 's1')
  t.is(c.pairs[0].failure.id, 'f1')
  t.is(c.pairs[0].sharedPrefix, 1)
  // Second pair uses the other two (distinct members before reuse).
  t.is(c.pairs[1].success.id, 's2')
  t.is(c.pairs[1].failure.id, 'f2')
  t.is(c.candidates, undefined)
  t.is(contrastGroup(group([s1, s2, f1, f2]), { k: 1 }).pairs.length, 1)
  // k larger than the distinct pairs: filled by reuse, never more than |S|·|F|.
  t.is(contrastGroup(group([s1, s2, f1, f2]), { k: 10 }).pairs.length, 4)
})

test('same-outcome groups give pattern candidates, or nothing with skip', (t) => {
  const fails = group([traj('q', Q, [{ answer: 'a' }], { reward: 0 }), traj('q', Q, [{ answer: 'b' }], { reward: 0 })])
  const wins = group([traj('r', Q, [{ answer: 'a' }], { reward: 1 })])
  const [cf, cw] = contrastivePairs([fails, wins])
  t.is(cf.pairs.length, 0)
  t.is(cf.candidates?.outcome, 'failure')
  t.is(cf.candidates?.trajectories.length, 2)
  t.is(cw.candidates?.outcome, 'success')
  const skipped = contrastivePairs([fails, wins], { sameOutcome: 'skip' })
  t.true(skipped.every((c) => c.candidates === undefined && c.pairs.length === 0))
})

test('success is reward >= tau on the chosen reward key', (t) => {
  const a = traj('q', Q, [{ answer: 'x' }], { reward: 0.6 })
  const b = traj('q', Q, [{ answer: 'y' }], { reward: 0.4 })
  t.is(contrastGroup(group([a, b]), { tau: 0.5 }).pairs.length, 1)
  t.is(contrastGroup(group([a, b]), { tau: 1 }).candidates?.outcome, 'failure')
  t.throws(() => contrastGroup(group([a, b]), { k: 0 }), { message: /pairing options: k/ })
})
