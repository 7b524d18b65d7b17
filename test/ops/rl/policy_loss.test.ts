import test from 'ava'
import fc from 'fast-check'
import * as hx from '../../../lib/index.js'
import type { KlEstimator, LossAggregation, PolicyLossOptions } from '../../../lib/index.js'
import { close, firstMismatch } from '../../helpers/random.js'

const f32 = (xs: number[]) => Float32Array.from(xs)
const one = (logp: number, old: number, A: number) => ({
  logp: f32([logp]), oldLogp: f32([old]), advantages: f32([A]), mask: Uint8Array.from([1]), B: 1, T: 1,
})

test('grpo, hand-worked: ratio inside the clip range passes the gradient -A r', (t) => {
  const r = hx.policyLoss(one(-1, -1.1, 1), { clipLow: 0.2, clipHigh: 0.2 })
  t.true(close(r.loss, -Math.exp(0.1), 1e-6, 0))
  t.true(close(r.gradLogp[0], -Math.exp(0.1), 1e-6, 0))
  t.is(r.clipFraction, 0)
  t.true(close(r.approxKl, -0.1, 1e-5, 0))
})

test('grpo, hand-worked: a clipped ratio gives the clipped loss and no gradient', (t) => {
  const r = hx.policyLoss(one(0, -0.5, 1), { clipLow: 0.2, clipHigh: 0.2 })
  t.true(close(r.loss, -1.2, 1e-6, 0))
  t.is(r.gradLogp[0], 0)
  t.is(r.clipFraction, 1)
  // clip-higher: a wider upper bound lets the same ratio through
  const wide = hx.policyLoss(one(0, -0.5, 1), { clipLow: 0.2, clipHigh: 0.7 })
  t.true(close(wide.gradLogp[0], -Math.exp(0.5), 1e-6, 0))
})

test('grpo, hand-worked: dual clip bounds the loss of a negative advantage at -A c', (t) => {
  const plain = hx.policyLoss(one(0, -0.5, -1))
  t.true(close(plain.loss, Math.exp(0.5), 1e-6, 0))
  t.true(close(plain.gradLogp[0], Math.exp(0.5), 1e-6, 0))
  const dual = hx.policyLoss(one(0, -0.5, -1), { dualClip: 1.5 })
  t.true(close(dual.loss, 1.5, 1e-6, 0))
  t.is(dual.gradLogp[0], 0)
})

test('gspo, hand-worked: one ratio per sequence, the exp of the mean log-ratio', (t) => {
  const batch = { logp: f32([0.1, 0.3, 9]), oldLogp: f32([0, 0, 0]), advantages: f32([1]), mask: Uint8Array.from([1, 1, 0]), B: 1, T: 3 }
  const s = Math.exp(0.2)
  // default GSPO clip (3e-4 / 4e-4) clips s = 1.2214 to 1.0004: loss -1.0004, no gradient
  const clipped = hx.policyLoss(batch, { algorithm: 'gspo' })
  t.true(close(clipped.loss, -1.0004, 1e-6, 0))
  t.deepEqual(Array.from(clipped.gradLogp), [0, 0, 0])
  t.is(clipped.clipFraction, 1)
  // a wide clip: every token's gradient is -A s times its weight 1 / (L * B) = 1/2
  const open = hx.policyLoss(batch, { algorithm: 'gspo', clipLow: 0.5, clipHigh: 0.5 })
  t.true(close(open.loss, -s, 1e-6, 0))
  t.is(firstMismatch(open.gradLogp, [-s / 2, -s / 2, 0], 1e-6, 0), -1)
})

test('the four aggregations weight tokens as documented', (t) => {
  // two rows of 1 and 3 tokens, every token loss -A r = -1 (ratio 1, A = 1)
  const batch = { logp: f32([0, 0, 0, 0, 0, 0]), oldLogp: f32([0, 0, 0, 0, 0, 0]), advantages: f32([1, 1]), mask: Uint8Array.from([1, 0, 0, 1, 1, 1]), B: 2, T: 3 }
  const grad = (aggregation: LossAggregation, normLength?: number) => Array.from(hx.policyLoss(batch, { aggregation, normLength }).gradLogp)
  t.deepEqual(grad('token-mean'), [-1 / 4, 0, 0, -1 / 4, -1 / 4, -1 / 4].map(Math.fround))
  t.deepEqual(grad('seq-mean-token-mean'), [-1 / 2, 0, 0, -1 / 6, -1 / 6, -1 / 6].map(Math.fround))
  t.deepEqual(grad('seq-mean-token-sum'), [-1 / 2, 0, 0, -1 / 2, -1 / 2, -1 / 2].map(Math.fround))
  t.deepEqual(grad('seq-mean-token-sum-norm'), [-1 / 3, 0, 0, -1 / 3, -1 / 3, -1 / 3].map(Math.fround))
  t.deepEqual(grad('seq-mean-token-sum-norm', 8), [-1 / 8, 0, 0, -1 / 8, -1 / 8, -1 / 8].map(Math.fround))
  t.true(close(hx.policyLoss(batch, { aggregation: 'seq-mean-token-sum' }).loss, -2, 1e-7, 0))
})

test('KL estimators, hand-worked at logp - ref = 0.5', (t) => {
  const batch = { ...one(-1, -1, 0), refLogp: f32([-1.5]) }
  const kl = (klEstimator: KlEstimator) => hx.policyLoss(batch, { klCoef: 0.1, klEstimator })
  t.true(close(kl('k1').kl!, 0.5, 1e-6, 0))
  t.true(close(kl('k1').gradLogp[0], 0.1, 1e-6, 0))
  t.true(close(kl('k2').kl!, 0.125, 1e-6, 0))
  t.true(close(kl('k2').gradLogp[0], 0.05, 1e-6, 0))
  // k3 = exp(-0.5) + 0.5 - 1, d/dlogp = 1 - exp(-0.5)
  t.true(close(kl('k3').kl!, Math.exp(-0.5) - 0.5, 1e-6, 0))
  t.true(close(kl('k3').gradLogp[0], 0.1 * (1 - Math.exp(-0.5)), 1e-5, 0))
  t.true(close(kl('k3').loss, 0.1 * (Math.exp(-0.5) - 0.5), 1e-6, 0))
  t.is(hx.policyLoss(batch).kl, undefined)
})

const algorithms = ['grpo', 'gspo'] as const
const aggregations: LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm']
const kls: (KlEstimator | undefined)[] = [undefined, 'k1', 'k2', 'k3']

test('every algorithm x aggregation x KL x mask type x advantage shape matches the float64 reference', (t) => {
  let cases = 0
  for (const algorithm of algorithms) {
    for (const aggregation of aggregations) {
      for (const klEstimator of kls) {
        for (const floatMask of [false, true]) {
          for (const tokenAdvantages of [false, true]) {
            const batch = hx.syntheticBatch(cases + 1, { B: 5, T: 13, floatMask, tokenAdvantages, emptyRow: true, garbageUnderMask: true, spread: 0.4 })
            const options: PolicyLossOptions = {
              algorithm, aggregation, clipLow: 0.2, clipHigh: 0.28,
              ...(klEstimator ? { klCoef: 0.05, klEstimator } : {}),
              ...(algorithm === 'grpo' && cases % 3 === 0 ? { dualClip: 3 } : {}),
            }
            const got = hx.policyLoss(batch, options)
            const want = hx.reference.policyLoss(batch, options)
            const label = JSON.stringify({ options, floatMask, tokenAdvantages })
            t.true(close(got.loss, want.loss, 1e-5, 1e-6), `loss ${got.loss} vs ${want.loss} ${label}`)
            t.true(close(got.clipFraction, want.clipFraction, 1e-6, 1e-7), `clipFraction ${label}`)
            t.true(close(got.approxKl, want.approxKl, 1e-5, 1e-6), `approxKl ${label}`)
            if (klEstimator) t.true(close(got.kl!, want.kl!, 1e-5, 1e-6), `kl ${label}`)
            t.is(firstMismatch(got.gradLogp, want.gradLogp, 1e-5, 1e-7), -1, `grad ${label}`)
            t.true(got.gradLogp.every(Number.isFinite), `finite grad under NaN padding ${label}`)
            cases++
          }
        }
      }
    }
  }
  t.is(cases, 128)
})

test('gradients equal central finite differences of the float64 loss', (t) => {
  const h = 1e-5
  for (const [k, options] of [
    { algorithm: 'grpo', clipLow: 0.2, clipHigh: 0.2, klCoef: 0.1, klEstimator: 'k3' },
    { algorithm: 'grpo', aggregation: 'seq-mean-token-mean', dualClip: 2, klCoef: 0.2, klEstimator: 'k2' },
    { algorithm: 'grpo', aggregation: 'seq-mean-token-sum-norm', klCoef: 0.3, klEstimator: 'k1' },
    // GSPO's stop-gradient form equals the true derivative when the advantage is per sequence and the mask binary
    { algorithm: 'gspo', clipLow: 0.3, clipHigh: 0.3 },
    { algorithm: 'gspo', aggregation: 'token-mean', clipLow: 0.3, clipHigh: 0.3, klCoef: 0.1 },
  ].entries() as Iterable<[number, PolicyLossOptions]>) {
    const batch = hx.syntheticBatch(100 + k, { B: 3, T: 6, spread: 0.3 })
    const native = hx.policyLoss(batch, options)
    const logp = Float64Array.from(batch.logp)
    for (let i = 0; i < logp.length; i++) {
      const at = (x: number) => {
        const shifted = Float64Array.from(logp)
        shifted[i] = x
        return hx.reference.policyLoss({ ...batch, logp: shifted }, options).loss
      }
      const fd = (at(logp[i] + h) - at(logp[i] - h)) / (2 * h)
      t.true(close(native.gradLogp[i], fd, 1e-3, 1e-6), `${JSON.stringify(options)} token ${i}: ${native.gradLogp[i]} vs ${fd}`)
    }
  }
})

test('rows with an all-zero mask count in no mean; an all-zero batch has loss 0 and zero gradient', (t) => {
  const batch = hx.syntheticBatch(7, { B: 4, T: 5, emptyRow: true })
  const withEmpty = hx.policyLoss(batch, { aggregation: 'seq-mean-token-mean' })
  const { refLogp: _unused, ...noRef } = batch
  const rest = { ...noRef, B: 3, logp: batch.logp.slice(5), oldLogp: batch.oldLogp.slice(5), advantages: batch.advantages.slice(1), mask: batch.mask.slice(5) }
  t.true(close(withEmpty.loss, hx.policyLoss(rest, { aggregation: 'seq-mean-token-mean' }).loss, 1e-6, 1e-7))
  const empty = { ...batch, mask: new Uint8Array(20) }
  for (const aggregation of aggregations) {
    const r = hx.policyLoss(empty, { aggregation, algorithm: 'gspo' })
    t.is(r.loss, 0)
    t.true(r.gradLogp.every((g) => g === 0))
    t.is(r.clipFraction, 0)
  }
})

test('property: random shapes and options agree with the reference', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1e6 }),
      fc.constantFrom(...algorithms), fc.constantFrom(...aggregations), fc.constantFrom(...kls), fc.boolean(), fc.boolean(),
      (B, T, seed, algorithm, aggregation, klEstimator, floatMask, tokenAdvantages) => {
        const batch = hx.syntheticBatch(seed, { B, T, floatMask, tokenAdvantages, spread: 0.5, garbageUnderMask: true })
        const options: PolicyLossOptions = { algorithm, aggregation, clipLow: 0.1, clipHigh: 0.3, ...(klEstimator ? { klCoef: 0.1, klEstimator } : {}) }
        const got = hx.policyLoss(batch, options)
        const want = hx.reference.policyLoss(batch, options)
        return close(got.loss, want.loss, 1e-5, 1e-6) && firstMismatch(got.gradLogp, want.gradLogp, 1e-5, 1e-7) === -1
      },
    ),
    { numRuns: 400, seed: 7 },
  )
  t.pass()
})

test('the fused kernel through libtorch autograd gives the gradient autograd finds through the composed ops', (t) => {
  for (const [k, options] of [
    { algorithm: 'grpo', dualClip: 3, klCoef: 0.1, klEstimator: 'k3' },
    { algorithm: 'gspo', clipLow: 0.05, clipHigh: 0.05 },
    { algorithm: 'grpo', aggregation: 'seq-mean-token-sum', klCoef: 0.2, klEstimator: 'k2' },
    { algorithm: 'gspo', aggregation: 'seq-mean-token-sum-norm', clipLow: 0.1, clipHigh: 0.1, klCoef: 0.1, klEstimator: 'k1' },
  ].entries() as Iterable<[number, PolicyLossOptions]>) {
    const batch = hx.syntheticBatch(300 + k, { B: 6, T: 32, floatMask: k % 2 === 1, spread: 0.4 })
    const fused = hx.policyLossTorch(batch, options, { fused: true })
    const ops = hx.policyLossTorch(batch, options)
    t.true(close(fused.loss, ops.loss, 1e-5, 1e-6), `${JSON.stringify(options)} loss`)
    t.is(firstMismatch(fused.gradLogp, ops.gradLogp, 1e-5, 1e-7), -1, `${JSON.stringify(options)} grad`)
    t.deepEqual(fused.gradLogp, hx.policyLoss(batch, options).gradLogp)
  }
})
