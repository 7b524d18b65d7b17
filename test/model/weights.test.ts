import test from 'ava'
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Policy, configFromHf } from '../../lib/index.js'
import { f32, maxAbsDiff, tempDir, tinyPolicy, writeRawSafetensors } from './fixtures.js'

const SEQS = [
  [5, 9, 14, 20, 3],
  [7, 8],
]

test('a random tiny config saved to safetensors and reloaded gives identical logits', async (t) => {
  const p = await tinyPolicy(3)
  const dir = tempDir()
  await p.save(dir)
  t.true(existsSync(join(dir, 'model.safetensors')))
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  t.is(config.model_type, 'qwen2')
  t.deepEqual(configFromHf(config), p.config)
  const q = await Policy.load(dir)
  const [a, b] = [await p.logits(SEQS), await q.logits(SEQS)]
  a.forEach((x, i) => t.is(maxAbsDiff(x, b[i]), 0))
  t.is(a[0].length, SEQS[0].length * p.config.vocabSize)
})

test('sharded save writes model.safetensors.index.json and loads back identically (untied head)', async (t) => {
  const p = await tinyPolicy(4, { tieWordEmbeddings: false })
  const dir = tempDir()
  await p.save(dir, { maxShardBytes: 20_000 })
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'))
  const shards = new Set(Object.values(index.weight_map))
  t.true(shards.size > 1)
  t.true('lm_head.weight' in index.weight_map)
  t.false(existsSync(join(dir, 'model.safetensors')))
  t.true(readdirSync(dir).every((f) => !f.includes('.tmp-')))
  const q = await Policy.load(dir)
  const [a, b] = [await p.logits(SEQS), await q.logits(SEQS)]
  a.forEach((x, i) => t.is(maxAbsDiff(x, b[i]), 0))
})

test('padding in a batch does not change a sequence’s logits', async (t) => {
  const p = await tinyPolicy(5)
  const [alone] = await p.logits([SEQS[1]])
  const [, batched] = await p.logits(SEQS)
  t.true(maxAbsDiff(alone, batched) < 1e-5)
})

async function savedCopy(): Promise<string> {
  const dir = tempDir()
  await (await tinyPolicy(6)).save(dir)
  return dir
}

test('a truncated safetensors file is a clear error', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  const bytes = readFileSync(file)
  writeFileSync(file, bytes.subarray(0, bytes.length - 100))
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /model\.safetensors.*past the end of the data.*truncated/ })
  writeFileSync(file, bytes.subarray(0, 5))
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /truncated: 5 bytes/ })
  writeFileSync(file, bytes.subarray(0, 40))
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /header claims \d+ bytes but only 32 follow/ })
})

test('a corrupt header is a clear error', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  writeRawSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [1], data: f32([1]) }], { headerOverride: '{"x": {"dtype": "F32", "shape": [1' + '        ' })
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /bad header JSON at byte/ })
  writeRawSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [2], data: f32([1]) }])
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /tensor 'x': holds 4 bytes but shape x F32 needs 8/ })
})

test('an unknown dtype is a clear error', async (t) => {
  const dir = await savedCopy()
  writeRawSafetensors(join(dir, 'model.safetensors'), [{ name: 'model.norm.weight', dtype: 'F8_E4M3', shape: [4], data: new Uint8Array(4) }])
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /tensor 'model\.norm\.weight': unknown or unsupported dtype 'F8_E4M3'/ })
})

test('a wrong shape and a missing tensor are clear errors', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  writeRawSafetensors(file, [{ name: 'model.norm.weight', dtype: 'F32', shape: [3], data: f32([1, 1, 1]) }])
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /tensor 'model\.norm\.weight' has shape \[3\] but the config needs \[32\]/ })
  writeRawSafetensors(file, [{ name: 'model.norm.weight', dtype: 'F32', shape: [32], data: f32(new Array(32).fill(1)) }])
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: /lacks \d+ parameter\(s\) the config needs: model\.embed_tokens\.weight/ })
})

test('float16 and bfloat16 files load into a float32 model', async (t) => {
  const p = await tinyPolicy(7)
  const dir = tempDir()
  await p.save(dir)
  const bf = tempDir()
  copyFileSync(join(dir, 'config.json'), join(bf, 'config.json'))
  copyFileSync(join(dir, 'tokenizer.json'), join(bf, 'tokenizer.json'))
  copyFileSync(join(dir, 'tokenizer_config.json'), join(bf, 'tokenizer_config.json'))
  // Re-encode every tensor as bfloat16 (the top half of the float32 bits, truncated).
  const src = readFileSync(join(dir, 'model.safetensors'))
  const hlen = Number(src.readBigUInt64LE(0))
  const header = JSON.parse(src.subarray(8, 8 + hlen).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>
  const entries = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .map(([name, e]) => {
      const raw = src.subarray(8 + hlen + e.data_offsets[0], 8 + hlen + e.data_offsets[1])
      const out = new Uint8Array(raw.length / 2)
      for (let i = 0; i < raw.length / 4; i++) {
        out[2 * i] = raw[4 * i + 2]
        out[2 * i + 1] = raw[4 * i + 3]
      }
      return { name, dtype: 'BF16', shape: e.shape, data: out }
    })
  writeRawSafetensors(join(bf, 'model.safetensors'), entries)
  const q = await Policy.load(bf)
  const [a, b] = [await p.logits(SEQS), await q.logits(SEQS)]
  t.true(maxAbsDiff(a[0], b[0]) < 0.05)
  t.true(maxAbsDiff(a[0], b[0]) > 0)
})

test('configFromHf reads a Qwen2.5-0.5B config.json and rejects what it cannot run', (t) => {
  const qwen = {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643,
    hidden_act: 'silu', hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864,
    max_position_embeddings: 32768, max_window_layers: 24, model_type: 'qwen2', num_attention_heads: 14,
    num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768,
    tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.40.1', use_cache: true,
    use_sliding_window: false, vocab_size: 151936,
  }
  const c = configFromHf(qwen)
  t.is(c.headDim, 64)
  t.is(c.numKvHeads, 2)
  t.true(c.tieWordEmbeddings)
  t.throws(() => configFromHf({ ...qwen, model_type: 'llama' }), { message: /model_type must be 'qwen2'/ })
  t.throws(() => configFromHf({ ...qwen, hidden_size: 'big' }), { instanceOf: TypeError, message: /hidden_size/ })
  t.throws(() => configFromHf({ ...qwen, num_key_value_heads: 3 }), { message: /must divide num_attention_heads/ })
  t.throws(() => configFromHf({ ...qwen, rope_scaling: { type: 'yarn', factor: 4 } }), { message: /rope_scaling 'yarn'/ })
})
