// Length-bucketed micro-batches (native/train/micro_batches.h): rows ordered longest first, each micro-batch cut to its
// own longest needed row. Whatever the cut, a step must equal the whole padded batch taken at once.
import test from 'ava'
import { maxAbsDiff, tinyPolicy } from './fixtures.js'
import type { PolicyLossOptions } from '../../lib/index.js'

// Rows of very different lengths; some end with unmasked tokens (an <information> block after the last turn), which
// a micro-batch may cut off since no loss term depends on them.
function raggedBatch() {
  let s = 7
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const sequences: number[][] = []
  const masks: number[][] = []
  for (const [prompt, response, tail] of [[3, 2, 0], [5, 11, 4], [2, 3, 9], [4, 17, 0], [6, 1, 2], [3, 7, 0], [2, 14, 5]]) {
    const tokens = Array.from({ length: prompt + response + tail }, () => 13 + Math.floor(rand() * 20))
    sequences.push(tokens)
    masks.push([...new Array(prompt).fill(0), ...new Array(response).fill(1), ...new Array(tail).fill(0)])
  }
  const oldLogprobs = sequences.map((q) => q.map(() => -3 + rand()))
  return { sequences, masks, oldLogprobs, advantages: [1, -0.5, 0.3, 2, -1, 0.1, -0.7] }
}

const LOSSES: PolicyLossOptions[] = [
  { aggregation: 'token-mean' },
  { aggregation: 'seq-mean-token-mean', klCoef: 0.05 },
  { aggregation: 'seq-mean-token-sum' },
  { aggregation: 'seq-mean-token-sum-norm' },
  { algorithm: 'gspo', aggregation: 'seq-mean-token-mean' },
]

test('bucketed micro-batches give the whole batch’s loss, gradient norm, entropy and update, for every aggregation', async (t) => {
  const batch = raggedBatch()
  for (const loss of LOSSES) {
    const runs = []
    // 1e9: one micro-batch of the whole padded batch; 24: several buckets; 1: one row each; rows 2 with a budget.
    for (const opts of [{ microBatchTokens: 1e9 }, { microBatchTokens: 24 }, { microBatchTokens: 1 }, { microBatchSize: 2, microBatchTokens: 1e9 }]) {
      const p = await tinyPolicy(31)
      p.configureTraining({ lr: 1e-3, ...opts })
      const s = await p.trainStep(batch, loss)
      const after = await p.score(batch.sequences)
      runs.push({ opts, s, after })
    }
    const [whole, ...others] = runs
    for (const r of others) {
      const what = `${JSON.stringify(loss)} ${JSON.stringify(r.opts)}`
      t.true(Math.abs(r.s.loss - whole.s.loss) < 1e-5 * Math.max(1, Math.abs(whole.s.loss)), `${what}: loss ${r.s.loss} vs ${whole.s.loss}`)
      t.true(Math.abs(r.s.gradNorm - whole.s.gradNorm) < 1e-4 * whole.s.gradNorm, `${what}: grad norm ${r.s.gradNorm} vs ${whole.s.gradNorm}`)
      t.true(Math.abs(r.s.entropy - whole.s.entropy) < 1e-5, `${what}: entropy`)
      t.is(r.s.tokens, whole.s.tokens)
      r.after.logprobs.forEach((lp, i) => t.true(maxAbsDiff(lp, whole.after.logprobs[i]) < 1e-4, `${what}: row ${i} after the update`))
    }
  }
})

test('sftStep with bucketed micro-batches equals the whole batch', async (t) => {
  const { sequences, masks } = raggedBatch()
  const stats = []
  for (const microBatchTokens of [1e9, 20]) {
    const p = await tinyPolicy(32)
    p.configureTraining({ lr: 1e-3, microBatchTokens })
    stats.push(await p.sftStep({ sequences, masks }))
  }
  t.true(Math.abs(stats[0].loss - stats[1].loss) < 1e-5)
  t.true(Math.abs(stats[0].gradNorm - stats[1].gradNorm) < 1e-4 * stats[0].gradNorm)
})

test('a negative microBatchTokens is refused, naming it', async (t) => {
  const p = await tinyPolicy(33)
  p.configureTraining({ microBatchTokens: -1 })
  await t.throwsAsync(() => p.trainStep({ ...raggedBatch() }), { message: /optimizer.microBatchTokens must be an integer in \[0, /, instanceOf: RangeError })
})
