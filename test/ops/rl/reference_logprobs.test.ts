import test from 'ava'
import { tinyPolicy } from '../../model/fixtures.js'

// HiExp's regulariser: the KL target is given per token (the experience-conditioned sampling log-probs), not a copy
// of the weights.
test('trainStep with refLogprobs pulls the log-probs towards the given targets and reports that KL', async (t) => {
  const p = await tinyPolicy(31)
  p.configureTraining({ lr: 3e-3, weightDecay: 0, maxGradNorm: 0 })
  const prompt = [13, 14, 15]
  const [g] = await p.generate([prompt], { maxNewTokens: 6, seed: 3 })
  const seq = [...prompt, ...g.tokens]
  const mask = [0, 0, 0, ...g.tokens.map(() => 1)]
  const old = [0, 0, 0, ...g.logprobs]
  // targets half a nat above the current log-probs: k3's gradient 1 - exp(ref - logp) < 0, so descent raises logp
  const target = old.map((x, i) => (i < 3 ? 0 : Math.min(-1e-3, x + 0.5)))
  const before = await p.score([seq])
  const stats = await p.trainStep({ sequences: [seq], masks: [mask], advantages: [0], oldLogprobs: [old], refLogprobs: [target] }, { klCoef: 1 })
  const after = await p.score([seq])
  const sum = (x: Float32Array) => x.slice(3).reduce((a, b) => a + b, 0)
  t.true(sum(after.logprobs[0]) > sum(before.logprobs[0]))
  // the reported KL is the k3 estimate at the starting weights: mean over tokens of exp(d) - d - 1, d = ref - logp
  const expected = g.logprobs.map((lp, i) => {
    const d = target[i + 3] - lp
    return Math.exp(d) - d - 1
  })
  const mean = expected.reduce((a, b) => a + b, 0) / expected.length
  t.true(Math.abs(stats.kl! - mean) < 1e-4, `${stats.kl} vs ${mean}`)
  // a length mismatch is named
  await t.throwsAsync(p.trainStep({ sequences: [seq], masks: [mask], advantages: [0], refLogprobs: [target, target] }, { klCoef: 1 }), {
    instanceOf: RangeError,
    message: /refLogprobs must hold one row per sequence/,
  })
})
