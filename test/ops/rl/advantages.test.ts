import test from 'ava'
import fc from 'fast-check'
import * as hx from '../../../lib/index.js'
import { firstMismatch } from '../../helpers/random.js'

const f32 = (xs: number[]) => Float32Array.from(xs)
const i32 = (xs: number[]) => Int32Array.from(xs)

test('grpo: hand-worked groups of two and three', (t) => {
  // group [1, 0]: mean 0.5, unbiased std 0.70711 -> ±0.70711; group [1, 2, 3]: mean 2, std 1 -> -1, 0, 1 (over 1 + eps)
  const a = hx.groupAdvantages(f32([1, 0, 1, 2, 3]), { groupIds: i32([7, 7, 9, 9, 9]), eps: 0 })
  t.is(firstMismatch(a, [0.70710678, -0.70710678, -1, 0, 1], 1e-6, 1e-6), -1)
})

test('grpo: a group of equal rewards has advantage 0, also at eps 0 (no 0/0) and where rounding makes the mean inexact', (t) => {
  // 0.1 * 3 / 3 is not exactly 0.1 in floating point: without the rule, eps 0 would give +-1 (or NaN) to equal rewards.
  for (const eps of [0, 1e-6]) {
    const a = hx.groupAdvantages(f32([0.1, 0.1, 0.1, 1, 1, 0, 0]), { groupIds: i32([0, 0, 0, 1, 1, 2, 2]), eps })
    t.deepEqual(Array.from(a), [0, 0, 0, 0, 0, 0, 0], `eps ${eps}`)
    t.deepEqual(Array.from(hx.reference.groupAdvantages([0.1, 0.1, 0.1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 2, 2], { eps })), [0, 0, 0, 0, 0, 0, 0])
  }
  const mixed = hx.groupAdvantages(f32([1, 1, 0, 1]), { groupSize: 2, eps: 0 })
  t.is(firstMismatch(mixed, [0, 0, -0.70710678, 0.70710678], 1e-6, 1e-6), -1)
})

test('drgrpo and rloo: hand-worked values', (t) => {
  const r = f32([1, 2, 3, 10])
  const ids = i32([0, 0, 0, 1])
  t.deepEqual(Array.from(hx.groupAdvantages(r, { groupIds: ids, estimator: 'drgrpo' })), [-1, 0, 1, 10])
  // rloo: r_i - mean of the other two: 1 - 2.5, 2 - 2, 3 - 1.5; the singleton keeps its reward
  t.deepEqual(Array.from(hx.groupAdvantages(r, { groupIds: ids, estimator: 'rloo' })), [-1.5, 0, 1.5, 10])
})

test('reinforce++-baseline: group mean removed, then whitened over the batch (unbiased variance)', (t) => {
  // centred: [-0.5, 0.5, -1, 1]; mean 0; unbiased var = (0.25 + 0.25 + 1 + 1) / 3 = 0.8333
  const a = hx.groupAdvantages(f32([0, 1, 0, 2]), { groupSize: 2, estimator: 'reinforce++-baseline' })
  const s = 1 / Math.sqrt(2.5 / 3 + 1e-8)
  t.is(firstMismatch(a, [-0.5 * s, 0.5 * s, -s, s], 1e-6, 1e-6), -1)
  // token-weighted whitening as verl does over response tokens
  const counts = f32([1, 3, 2, 2])
  const w = hx.groupAdvantages(f32([0, 1, 0, 2]), { groupSize: 2, estimator: 'reinforce++-baseline', tokenCounts: counts })
  const ref = hx.reference.groupAdvantages([0, 1, 0, 2], [0, 0, 1, 1], { estimator: 'reinforce++-baseline', tokenCounts: counts })
  t.is(firstMismatch(w, ref, 1e-5, 1e-6), -1)
})

test('groups of one follow verl (advantage = reward) unless zeroSingletons', (t) => {
  const r = f32([0.3, 5, 6])
  const ids = i32([1, 2, 2])
  t.true(Math.abs(hx.groupAdvantages(r, { groupIds: ids })[0] - 0.3 / (1 + 1e-6)) < 1e-7)
  t.is(hx.groupAdvantages(r, { groupIds: ids, zeroSingletons: true })[0], 0)
  t.is(hx.groupAdvantages(r, { groupIds: ids, estimator: 'rloo', zeroSingletons: true })[0], 0)
})

test('a group with equal rewards gets zero advantages, not NaN', (t) => {
  const a = hx.groupAdvantages(f32([1, 1, 1, 0, 1]), { groupIds: i32([0, 0, 0, 1, 1]) })
  t.deepEqual(Array.from(a.slice(0, 3)), [0, 0, 0])
  t.true(a.every(Number.isFinite))
})

test('property: every estimator matches the float64 reference on random unequal groups', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.float({ min: -5, max: 5, noNaN: true })), { minLength: 2, maxLength: 60 }),
      fc.constantFrom('grpo', 'drgrpo', 'rloo', 'reinforce++-baseline' as const),
      (rows, estimator) => {
        const ids = i32(rows.map((r) => r[0]))
        const rewards = f32(rows.map((r) => r[1]))
        // whitening a batch of identical values divides by sqrt(1e-8): outside float32's useful range, skip
        if (estimator === 'reinforce++-baseline' && new Set(rewards).size < 2) return true
        const got = hx.groupAdvantages(rewards, { groupIds: ids, estimator })
        const want = hx.reference.groupAdvantages(rewards, ids, { estimator })
        return firstMismatch(got, want, 1e-4, 1e-4) === -1
      },
    ),
    { numRuns: 300, seed: 42 },
  )
  t.pass()
})

test('groupSize and groupIds describe the same grouping', (t) => {
  const r = f32([1, 2, 0, 4, 4, 1])
  t.deepEqual(hx.groupAdvantages(r, { groupSize: 3 }), hx.groupAdvantages(r, { groupIds: i32([5, 5, 5, 2, 2, 2]) }))
})

test('broadcastAdvantages puts each sequence advantage on its masked tokens', (t) => {
  const out = hx.broadcastAdvantages(f32([2, -1]), Uint8Array.from([1, 1, 0, 0, 1, 1]), 2, 3)
  t.deepEqual(Array.from(out), [2, 2, 0, 0, -1, -1])
  const weighted = hx.broadcastAdvantages(f32([2, -1]), f32([0.5, 1, 0, 0, 1, 0.25]), 2, 3)
  t.deepEqual(Array.from(weighted), [1, 2, 0, 0, -1, -0.25])
})

test('bad input to groupAdvantages is named in the error', (t) => {
  const r = f32([1, 2, 3, 4])
  t.throws(() => hx.groupAdvantages(Float64Array.from([1, 2]) as unknown as Float32Array, { groupSize: 2 }), {
    instanceOf: TypeError,
    message: 'rewards must be a Float32Array, got Float64Array',
  })
  t.throws(() => hx.groupAdvantages(f32([1, NaN]), { groupSize: 2 }), { instanceOf: RangeError, message: /rewards\[1\] must be finite, got nan/ })
  t.throws(() => hx.groupAdvantages(r, { groupIds: i32([0, 0, 1]) }), { instanceOf: RangeError, message: 'options.groupIds has length 3, expected 4' })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 3 }), { instanceOf: RangeError, message: /not a multiple of options.groupSize = 3/ })
  t.throws(() => hx.groupAdvantages(r, {}), { instanceOf: TypeError, message: /exactly one of groupIds/ })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 2, groupIds: i32([0, 0, 1, 1]) }), { instanceOf: TypeError, message: /exactly one of groupIds/ })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 2, estimator: 'ppo' as 'grpo' }), {
    instanceOf: RangeError,
    message: "options.estimator must be one of 'grpo', 'drgrpo', 'rloo', 'reinforce++-baseline', got 'ppo'",
  })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 2, estimator: 'rloo', normalizeStd: true }), { instanceOf: RangeError, message: /normalizeStd applies to estimator 'grpo' only/ })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 2, eps: -1 }), { instanceOf: RangeError, message: /eps must be a finite number >= 0/ })
  t.throws(() => hx.groupAdvantages(r, { groupSize: 2, gropuSize: 2 } as never), { instanceOf: TypeError, message: /unknown option 'gropuSize'/ })
  t.throws(() => hx.groupAdvantages(f32([1]), { groupSize: 1, estimator: 'reinforce++-baseline' }), { instanceOf: RangeError, message: /needs a total weight > 1/ })
  t.throws(() => hx.broadcastAdvantages(f32([1]), new Uint8Array(3), 2, 3), { instanceOf: RangeError, message: 'advantages has length 1, expected B = 2' })
})

test('the libtorch-ops baseline computes the same grpo and drgrpo advantages', (t) => {
  const rewards = f32([1, 0, 0.5, 2, 2, 7, 3, 1])
  const groupIds = i32([4, 4, 4, 1, 1, 9, 2, 2])
  for (const estimator of ['grpo', 'drgrpo'] as const) {
    t.is(firstMismatch(hx.groupAdvantagesTorch(rewards, { groupIds, estimator }), hx.groupAdvantages(rewards, { groupIds, estimator }), 1e-6, 1e-6), -1)
  }
  t.throws(() => hx.groupAdvantagesTorch(rewards, { groupIds, estimator: 'rloo' }), { message: /covers estimators 'grpo' and 'drgrpo' only/ })
})
