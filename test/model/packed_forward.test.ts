// The packed forward (Qwen2::hiddenPacked: sequences back to back, no padding, attention within each) that
// bench/rl_step.ts measures RL steps against: its log-probs must be the padded scoring pass's.
import test from 'ava'
import { native } from '../../lib/native/loader.js'
import type { PolicyHandle } from '../../lib/native/binding.js'
import { maxAbsDiff, tinyPolicy } from './fixtures.js'

const handleOf = (p: object) => (p as { handle: PolicyHandle }).handle

test('packed log-probs equal policy.score per sequence; the bound reports both timings', async (t) => {
  const p = await tinyPolicy(41, { numKvHeads: 2 })
  const seqs = [[13, 14, 15, 16, 17], [20, 21], [22, 23, 24, 25, 26, 27, 28, 29, 30], [31]]
  const ref = await p.score(seqs)
  const r = await native().policyPackedBound(handleOf(p), Int32Array.from(seqs.flat()), Int32Array.from(seqs.map((s) => s.length)))
  let at = 0
  seqs.forEach((s, i) => {
    t.true(maxAbsDiff(r.logprobs.slice(at, at + s.length), ref.logprobs[i]) < 1e-5, `sequence ${i}`)
    at += s.length
  })
  t.true(r.forwardMs > 0 && r.forwardBackwardMs > 0)
})

test('policyPackedBound refuses an empty sequence and out-of-vocabulary ids, naming them', async (t) => {
  const p = await tinyPolicy(42)
  const n = native()
  t.throws(() => n.policyPackedBound(handleOf(p), Int32Array.from([1, 2]), Int32Array.from([2, 0])), { message: /every packed sequence needs at least one token/ })
  t.throws(() => n.policyPackedBound(handleOf(p), Int32Array.from([1, 99999]), Int32Array.from([2])), { message: /ids holds token id 99999 outside the vocabulary/ })
})
