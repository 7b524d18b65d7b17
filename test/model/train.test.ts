import test from 'ava'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Policy } from '../../lib/index.js'
import { maxAbsDiff, tempDir, tinyPolicy } from './fixtures.js'

// A copy task: "a b c SEP a b c"; the loss sees the copied half.
function copyBatch(rows: number, len: number, seed: number) {
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const SEP = 3
  const sequences: number[][] = []
  const masks: number[][] = []
  for (let r = 0; r < rows; r++) {
    const body = Array.from({ length: len }, () => 13 + Math.floor(rand() * 20))
    sequences.push([...body, SEP, ...body])
    masks.push([...new Array(len + 1).fill(0), ...new Array(len).fill(1)])
  }
  return { sequences, masks }
}

test('a few sftSteps drive the loss of a small copy task down', async (t) => {
  const p = await tinyPolicy(21, { initializerRange: 0.02, hiddenSize: 64, numHeads: 4, numKvHeads: 2, intermediateSize: 128 })
  p.configureTraining({ lr: 3e-3, warmupSteps: 2, weightDecay: 0 })
  const batch = copyBatch(16, 5, 1)
  const first = await p.sftStep(batch)
  let last = first
  for (let i = 0; i < 40; i++) last = await p.sftStep(batch)
  t.true(first.loss > 3, `initial loss ${first.loss}`)
  t.true(last.loss < first.loss * 0.6, `loss ${first.loss} -> ${last.loss}`)
  t.is(last.step, 41)
  t.is(first.tokens, 16 * 5)
  t.true(first.lr < 3e-3) // warm-up
  t.is(last.lr, 3e-3)
})

test('a trainStep with positive advantage raises the log-prob of that sequence; negative lowers it', async (t) => {
  for (const [adv, sign] of [[1, 1], [-1, -1]] as const) {
    const p = await tinyPolicy(22)
    p.configureTraining({ lr: 1e-3, weightDecay: 0 })
    const prompt = [13, 14, 15]
    const [g] = await p.generate([prompt], { maxNewTokens: 6, seed: 5 })
    const seq = [...prompt, ...g.tokens]
    const mask = [0, 0, 0, ...g.tokens.map(() => 1)]
    const before = await p.score([seq])
    const stats = await p.trainStep({ sequences: [seq], masks: [mask], advantages: [adv], oldLogprobs: [[0, 0, 0, ...g.logprobs]] })
    const after = await p.score([seq])
    const sum = (x: Float32Array) => x.slice(3).reduce((a, b) => a + b, 0)
    t.is(Math.sign(sum(after.logprobs[0]) - sum(before.logprobs[0])), sign, `advantage ${adv}`)
    t.true(stats.gradNorm > 0)
    t.is(stats.step, 1)
    t.true(Math.abs(stats.approxKl) < 1e-4) // old log-probs came from the same weights
    t.is(stats.clipFraction, 0)
    t.true(stats.entropy > 0)
    t.is(stats.kl, undefined)
  }
})

test('micro-batch accumulation gives the whole batch’s loss, gradient norm and update', async (t) => {
  const batch = { ...copyBatch(6, 4, 2), advantages: [1, -0.5, 0.3, 2, -1, 0.1] }
  const results = []
  for (const micro of [0, 1, 4]) {
    for (const aggregation of ['token-mean', 'seq-mean-token-mean'] as const) {
      const p = await tinyPolicy(23)
      p.configureTraining({ lr: 1e-3, microBatchSize: micro })
      const s = await p.trainStep(batch, { aggregation })
      const after = await p.score(batch.sequences)
      results.push({ micro, aggregation, s, after })
    }
  }
  for (const r of results.slice(2)) {
    const base = results.find((x) => x.micro === 0 && x.aggregation === r.aggregation)!
    t.true(Math.abs(r.s.loss - base.s.loss) < 1e-5, `${r.aggregation} micro ${r.micro}: loss ${r.s.loss} vs ${base.s.loss}`)
    t.true(Math.abs(r.s.gradNorm - base.s.gradNorm) < 1e-4 * base.s.gradNorm, `${r.aggregation} micro ${r.micro}: grad norm`)
    t.true(maxAbsDiff(r.after.logprobs[0], base.after.logprobs[0]) < 1e-4)
  }
})

test('gradient clipping reports the norm before clipping; klCoef > 0 measures KL to a frozen reference', async (t) => {
  const p = await tinyPolicy(24)
  p.configureTraining({ lr: 5e-3, maxGradNorm: 1e-3 })
  const batch = { ...copyBatch(4, 4, 3), advantages: [1, 1, 1, 1] }
  const s1 = await p.trainStep(batch, { klCoef: 0.1 })
  t.true(s1.gradNorm > 1e-3)
  t.is(s1.kl, 0) // the reference is this step's starting weights
  const s2 = await p.trainStep(batch, { klCoef: 0.1, klEstimator: 'k1' })
  t.truthy(s2.kl !== undefined && s2.kl !== 0)
  await p.resetReference()
  const s3 = await p.trainStep(batch, { klCoef: 0.1 })
  t.is(s3.kl, 0)
  await t.throwsAsync(p.trainStep(batch, { clipLow: -1 }), { instanceOf: RangeError, message: /clipLow/ })
  await t.throwsAsync(p.trainStep({ ...batch, masks: batch.masks.slice(1) }), { instanceOf: RangeError, message: /masks must hold one row per sequence/ })
})

test('the learning-rate schedule warms up then follows the cosine', async (t) => {
  const p = await tinyPolicy(25)
  p.configureTraining({ lr: 1e-3, warmupSteps: 2, schedule: 'cosine', totalSteps: 6, minLrRatio: 0.1 })
  const batch = copyBatch(2, 3, 4)
  const lrs: number[] = []
  for (let i = 0; i < 7; i++) lrs.push((await p.sftStep(batch)).lr)
  const expect = [5e-4, 1e-3, 1e-3, 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.25))), 1e-3 * (0.1 + 0.9 * 0.5), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.75))), 1e-4]
  lrs.forEach((lr, i) => t.true(Math.abs(lr - expect[i]) < 1e-12, `step ${i}: ${lr} vs ${expect[i]}`))
  t.throws(() => p.configureTraining({ schedule: 'cosine' }), { instanceOf: RangeError, message: /totalSteps must be > 0/ })
})

test('checkpoint then resume gives bit-identical next steps on CPU', async (t) => {
  const batch = { ...copyBatch(4, 4, 5), advantages: [1, -1, 0.5, -0.5] }
  const p = await tinyPolicy(26)
  p.configureTraining({ lr: 1e-3, warmupSteps: 3, schedule: 'cosine', totalSteps: 10 })
  await p.trainStep(batch, { klCoef: 0.05 })
  await p.sftStep(batch)
  const dir = tempDir()
  await p.saveCheckpoint(dir)
  t.true(readdirSync(dir).every((f) => !f.includes('.tmp-')))
  t.true(existsSync(join(dir, 'trainer_state.safetensors')))
  const q = await Policy.loadCheckpoint(dir)
  t.is(q.step, 2)
  const a = await p.trainStep(batch, { klCoef: 0.05 })
  const b = await q.trainStep(batch, { klCoef: 0.05 })
  t.deepEqual(a, b)
  const [la, lb] = [await p.logits(batch.sequences), await q.logits(batch.sequences)]
  t.is(maxAbsDiff(la[0], lb[0]), 0)
  // The sampler RNG is restored too: unseeded generation continues identically.
  const [ga, gb] = [await p.generate([[13, 14]], { maxNewTokens: 5 }), await q.generate([[13, 14]], { maxNewTokens: 5 })]
  t.deepEqual(ga, gb)
  await t.throwsAsync(Policy.loadCheckpoint(tempDir()), { message: /hiexp_trainer\.json is missing/ })
})

test('a mask on the first token is refused; steps run off the event loop', async (t) => {
  const p = await tinyPolicy(27, { hiddenSize: 64, intermediateSize: 256 })
  await t.throwsAsync(p.sftStep({ sequences: [[13, 14]], masks: [[1, 1]] }), { instanceOf: RangeError, message: /masks\[0\]\[0\] must be 0/ })
  const batch = copyBatch(32, 24, 6)
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const pending = p.sftStep(batch)
  t.is(ticks, 0)
  await pending
  clearInterval(timer)
  t.true(ticks > 0, 'the event loop kept running during the step')
})
