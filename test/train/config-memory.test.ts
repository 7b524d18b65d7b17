// Rollout batches are bounded by memory when the config is parsed (issue 17: groupSize 5000 grew past 9 GB RSS,
// 100000 overflowed the stack).
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseTrainConfig } from '../../lib/train/config.js'
import { checkRolloutMemory, decoderSizeOf, estimateRolloutMemory } from '../../lib/train/memory.js'

const GB = 2 ** 30

test('groupSize 100000 is refused with the batch, its size and the machine named', (t) => {
  t.throws(() => parseTrainConfig({ groupSize: 100_000 }), {
    instanceOf: RangeError,
    message: /^train config: questionsPerStep × groupSize = 800000 rollouts of up to rollout.maxTotalTokens 640 tokens need about [\d.]+ GB at once .*more than 75% of this machine's [\d.]+ GB: lower groupSize/,
  })
})

test('groupSize 5000 is refused on a 16 GB machine, the default batch is not', (t) => {
  const big = parseTrainConfig({ groupSize: 1 })
  const at5000 = { ...big, groupSize: 5000 }
  t.throws(() => checkRolloutMemory(at5000, 16 * GB), { message: /questionsPerStep × groupSize = 40000 rollouts/ })
  t.notThrows(() => checkRolloutMemory(parseTrainConfig({}), 16 * GB))
})

test('the estimate: KV cache per token of the tiny policy, logits per row, linear in the batch', (t) => {
  const c = parseTrainConfig({ validation: { questions: 10 } })
  const size = decoderSizeOf(c.policy)
  // tiny defaults: 2 layers, 2 KV heads, head size 128 / 4 = 32, float32 on the CPU.
  t.deepEqual(size, { numLayers: 2, numKvHeads: 2, headDim: 32, vocabSize: 8192 })
  const kvPerToken = 2 /* K and V */ * 2 * 2 * 32 * 4
  const e = estimateRolloutMemory(c, size)
  t.is(e.rollouts, 40)
  t.true(e.bytesPerRollout >= 640 * kvPerToken + 8192 * 4)
  const e50 = estimateRolloutMemory({ ...c, groupSize: 50 }, size)
  t.is(e50.bytes - e50.fixedBytes, 10 * (e.bytes - e.fixedBytes))
  t.is(e.bytes, e.fixedBytes + 40 * e.bytesPerRollout)
  // On a GPU the KV cache is not in host memory.
  t.true(estimateRolloutMemory({ ...c, policy: { ...c.policy, device: 'cuda' } }, size).bytesPerRollout < 640 * kvPerToken)
})

test('the largest batch decides: the HEK build and validation count too', (t) => {
  const c = parseTrainConfig({ experience: { enabled: true, buildQuestions: 400, buildGroupSize: 8 } })
  const e = estimateRolloutMemory(c)
  t.is(e.rollouts, 3200)
  t.is(e.batch, 'experience.buildQuestions × experience.buildGroupSize')
  t.throws(() => checkRolloutMemory(c, 1 * GB), { message: /^train config: experience.buildQuestions × experience.buildGroupSize = 3200 rollouts/ })
})

test('the fixed share: the runtime, one prefill slice of attention scores, one training micro-batch of logits', (t) => {
  const c = parseTrainConfig({})
  const size = decoderSizeOf(c.policy)
  const fixed = (microBatchTokens?: number) => estimateRolloutMemory({ ...c, optimizer: { ...c.optimizer, microBatchTokens } }, size).fixedBytes
  // 3 float32 copies (logits, log-softmax, gradient) per micro-batch token and vocabulary entry.
  t.is(fixed(4096) - fixed(2048), 3 * 2048 * 8192 * 4)
  // The unset budget is the policy's CPU default, 2048 tokens; one micro-batch never holds more than the batch's tokens.
  t.is(fixed(undefined), fixed(2048))
  t.is(fixed(1e12), fixed(estimateRolloutMemory(c, size).rollouts * c.rollout.maxTotalTokens))
  t.true(fixed(2048) > 300 * 2 ** 20)
})

test("a checkpoint's config.json sizes the estimate", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-mem-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Qwen2.5-0.5B's shape.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ hidden_size: 896, num_attention_heads: 14, num_key_value_heads: 2, num_hidden_layers: 24, vocab_size: 151936 }))
  const c = parseTrainConfig({ policy: { checkpoint: dir, dtype: 'bfloat16' } })
  t.deepEqual(decoderSizeOf(c.policy), { numLayers: 24, numKvHeads: 2, headDim: 64, vocabSize: 151936 })
  const kvPerToken = 2 * 24 * 2 * 64 * 2
  t.true(estimateRolloutMemory(c).bytesPerRollout >= 640 * kvPerToken + 151936 * 4)
})
