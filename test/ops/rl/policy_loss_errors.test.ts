import test from 'ava'
import * as hx from '../../../lib/index.js'

const base = () => {
  const { refLogp: _ref, ...batch } = hx.syntheticBatch(1, { B: 2, T: 3 })
  batch.mask = Uint8Array.from([1, 1, 1, 1, 1, 0])
  return batch
}

test('length mismatches name the array and both lengths', (t) => {
  t.throws(() => hx.policyLoss({ ...base(), oldLogp: new Float32Array(5) }), { instanceOf: RangeError, message: 'batch.oldLogp has length 5, expected 6' })
  t.throws(() => hx.policyLoss({ ...base(), mask: new Uint8Array(7) }), { instanceOf: RangeError, message: 'batch.mask has length 7, expected 6' })
  t.throws(() => hx.policyLoss({ ...base(), advantages: new Float32Array(3) }), {
    instanceOf: RangeError,
    message: 'batch.advantages has length 3, expected B = 2 (per sequence) or B*T = 6 (per token)',
  })
  t.throws(() => hx.policyLoss({ ...base(), refLogp: new Float32Array(2) }, { klCoef: 0.1 }), { instanceOf: RangeError, message: 'batch.refLogp has length 2, expected 6' })
})

test('B and T must be positive integers whose product fits a typed array', (t) => {
  t.throws(() => hx.policyLoss({ ...base(), B: 0 }), { instanceOf: RangeError, message: /batch.B must be an integer in \[1, \d+\], got 0/ })
  t.throws(() => hx.policyLoss({ ...base(), T: 1.5 }), { instanceOf: RangeError, message: /batch.T must be an integer/ })
  t.throws(() => hx.policyLoss({ ...base(), B: 2 ** 40, T: 2 ** 40 }), { instanceOf: RangeError, message: /batch.B \* batch.T = 1099511627776 \* 1099511627776 overflows/ })
  t.throws(() => hx.policyLoss({ ...base(), B: 2 ** 20, T: 2 ** 13 }), { instanceOf: RangeError, message: /overflows the largest typed array/ })
  t.throws(() => hx.policyLoss({ ...base(), T: '3' as unknown as number }), { instanceOf: TypeError, message: 'batch.T must be a number, got string' })
})

test('wrong typed-array types are named', (t) => {
  t.throws(() => hx.policyLoss({ ...base(), logp: Float64Array.from([1, 2, 3, 4, 5, 6]) as unknown as Float32Array }), {
    instanceOf: TypeError,
    message: 'batch.logp must be a Float32Array, got Float64Array',
  })
  t.throws(() => hx.policyLoss({ ...base(), mask: Int32Array.from([1, 1, 1, 1, 1, 1]) as unknown as Uint8Array }), {
    instanceOf: TypeError,
    message: 'batch.mask must be a Uint8Array or a Float32Array, got Int32Array',
  })
  t.throws(() => hx.policyLoss({ ...base(), logp: [1, 2, 3, 4, 5, 6] as unknown as Float32Array }), { instanceOf: TypeError, message: 'batch.logp must be a Float32Array, got Array' })
  t.throws(() => hx.policyLoss(null as never), { instanceOf: TypeError, message: 'batch must be an object, got null' })
})

test('non-finite values under the mask are named with their index; under padding they are ignored', (t) => {
  const nanLogp = base()
  nanLogp.logp[4] = NaN
  t.throws(() => hx.policyLoss(nanLogp), { instanceOf: RangeError, message: 'logp[4] is nan at a masked token; logp must be finite there' })
  const infOld = base()
  infOld.oldLogp[1] = Number.NEGATIVE_INFINITY
  t.throws(() => hx.policyLoss(infOld, { algorithm: 'gspo' }), { instanceOf: RangeError, message: /oldLogp\[1\] is -inf at a masked token/ })
  const nanAdv = base()
  nanAdv.advantages[1] = NaN
  t.throws(() => hx.policyLoss(nanAdv), { instanceOf: RangeError, message: 'advantages[1] is nan; advantages must be finite' })
  const nanRef = { ...base(), refLogp: new Float32Array(6) }
  nanRef.refLogp[0] = NaN
  t.throws(() => hx.policyLoss(nanRef, { klCoef: 0.1 }), { instanceOf: RangeError, message: /refLogp\[0\] is nan at a masked token/ })
  const padded = base()
  padded.logp[5] = NaN
  t.true(Number.isFinite(hx.policyLoss(padded).loss))
  // The composed-ops path (policyLossTorch) refuses the same inputs with the same message instead of returning NaN,
  // and ignores the padding as the kernel does: the same loss and gradient.
  t.throws(() => hx.policyLossTorch(nanLogp), { instanceOf: RangeError, message: 'logp[4] is nan at a masked token; logp must be finite there' })
  t.throws(() => hx.policyLossTorch(nanAdv), { instanceOf: RangeError, message: 'advantages[1] is nan; advantages must be finite' })
  t.throws(() => hx.policyLossTorch(nanRef, { klCoef: 0.1 }), { instanceOf: RangeError, message: /refLogp\[0\] is nan at a masked token/ })
  t.throws(() => hx.policyLossTorch(base(), { clipLow: 2 }), { instanceOf: RangeError, message: /clipLow must be a number in \[0, 1\)/ })
  const viaOps = hx.policyLossTorch(padded)
  const viaKernel = hx.policyLoss(padded)
  t.true(Math.abs(viaOps.loss - viaKernel.loss) < 1e-6, `${viaOps.loss} vs ${viaKernel.loss}`)
  t.true(viaOps.gradLogp.every((g, i) => Math.abs(g - viaKernel.gradLogp[i]) < 1e-6))
  t.throws(() => hx.policyLoss({ ...base(), mask: Float32Array.from([1, -1, 1, 1, 1, 1]) }), { instanceOf: RangeError, message: 'mask[1] must be a finite weight >= 0, got -1' })
  t.throws(() => hx.policyLoss({ ...base(), mask: Float32Array.from([1, NaN, 1, 1, 1, 1]) }), { instanceOf: RangeError, message: /mask\[1\] must be a finite weight >= 0, got nan/ })
})

test('unknown or out-of-range options are named', (t) => {
  t.throws(() => hx.policyLoss(base(), { algorithm: 'ppo' as 'grpo' }), { instanceOf: RangeError, message: "options.algorithm must be one of 'grpo', 'gspo', got 'ppo'" })
  t.throws(() => hx.policyLoss(base(), { aggregation: 'mean' as 'token-mean' }), { instanceOf: RangeError, message: /options.aggregation must be one of 'token-mean', 'seq-mean-token-mean'/ })
  t.throws(() => hx.policyLoss(base(), { klEstimator: 'k4' as 'k1', klCoef: 0 }), { instanceOf: RangeError, message: "options.klEstimator must be one of 'k1', 'k2', 'k3', got 'k4'" })
  t.throws(() => hx.policyLoss(base(), { clipRatio: 0.2 } as never), { instanceOf: TypeError, message: /options has an unknown option 'clipRatio'/ })
  t.throws(() => hx.policyLoss(base(), { clipLow: 1.5 }), { instanceOf: RangeError, message: 'clipLow must be a number in [0, 1), got 1.5' })
  t.throws(() => hx.policyLoss(base(), { clipHigh: -0.1 }), { instanceOf: RangeError, message: 'clipHigh must be a finite number >= 0, got -0.1' })
  t.throws(() => hx.policyLoss(base(), { dualClip: 0.5 }), { instanceOf: RangeError, message: 'dualClip must be a number > 1, got 0.5' })
  t.throws(() => hx.policyLoss(base(), { clipLow: NaN }), { instanceOf: RangeError, message: /options.clipLow must be a finite number, got nan/ })
  t.throws(() => hx.policyLoss(base(), { klCoef: 0.1 }), { instanceOf: RangeError, message: 'options.klCoef > 0 needs batch.refLogp (the reference log-probs)' })
  t.throws(() => hx.policyLoss(base(), { klCoef: -1 }), { instanceOf: RangeError, message: /klCoef must be a finite number >= 0/ })
})

test('output.out receives the gradient in place; a wrong buffer is named', (t) => {
  const batch = base()
  const out = new Float32Array(6).fill(7)
  const r = hx.policyLoss(batch, {}, { out })
  t.is(r.gradLogp, out)
  t.deepEqual(Array.from(out), Array.from(hx.policyLoss(batch).gradLogp))
  t.throws(() => hx.policyLoss(batch, {}, { out: new Float32Array(5) }), { instanceOf: RangeError, message: 'output.out has length 5, expected 6' })
  t.throws(() => hx.policyLoss(batch, {}, { out: new Float64Array(6) as unknown as Float32Array }), { instanceOf: TypeError, message: 'output.out must be a Float32Array, got Float64Array' })
  t.throws(() => hx.policyLoss(batch, {}, { into: out } as never), { instanceOf: TypeError, message: /output has an unknown option 'into'/ })
})
