import test from 'ava'
import * as hx from '../../../lib/index.js'
import type { PolicyLossOptions } from '../../../lib/index.js'
import { close, firstMismatch } from '../../helpers/random.js'

const cuda = hx.info().devices.includes('cuda:0')
const gpuTest = cuda ? test : test.skip
if (!cuda) console.log('policy_loss_cuda: no CUDA device in this build/machine, the CUDA kernel tests are skipped')

gpuTest('the CUDA kernel matches the CPU kernel for every algorithm, aggregation and KL estimator', (t) => {
  let k = 0
  for (const algorithm of ['grpo', 'gspo'] as const) {
    for (const aggregation of ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const) {
      for (const klEstimator of ['k1', 'k2', 'k3'] as const) {
        const batch = hx.syntheticBatch(500 + k++, { B: 7, T: 300, floatMask: k % 2 === 0, tokenAdvantages: k % 3 === 0, emptyRow: true })
        const options: PolicyLossOptions = { algorithm, aggregation, klCoef: 0.05, klEstimator, clipLow: 0.2, clipHigh: 0.3, ...(algorithm === 'grpo' ? { dualClip: 3 } : {}) }
        const cpu = hx.policyLoss(batch, options)
        const gpu = hx.policyLossTorch(batch, options, { fused: true, device: 'cuda:0' })
        t.true(close(gpu.loss, cpu.loss, 1e-5, 1e-6), JSON.stringify(options))
        t.is(firstMismatch(gpu.gradLogp, cpu.gradLogp, 1e-5, 1e-7), -1, JSON.stringify(options))
      }
    }
  }
})

gpuTest('the CUDA kernel names a NaN at a masked token', (t) => {
  const batch = hx.syntheticBatch(9, { B: 2, T: 4 })
  batch.mask.fill(1)
  batch.logp[3] = NaN
  t.throws(() => hx.policyLossTorch(batch, {}, { fused: true, device: 'cuda:0' }), { message: /logp\[3\] is nan at a masked token/ })
})

test('asking for a CUDA device this build cannot use is a clear error', (t) => {
  if (cuda) return t.pass()
  const batch = hx.syntheticBatch(1, { B: 1, T: 2 })
  t.throws(() => hx.policyLossTorch(batch, {}, { fused: true, device: 'cuda:0' }), {
    instanceOf: RangeError,
    message: "placement.device is 'cuda:0' but this build of hiexp sees no CUDA device",
  })
  t.throws(() => hx.policyLossTorch(batch, {}, { device: 'tpu' }), { instanceOf: RangeError, message: "placement.device must be 'cpu' or 'cuda[:N]', got 'tpu'" })
})
