// Qwen2 model configuration in Hugging Face's config.json form (transformers' Qwen2Config), validated once here.
import { totalmem } from 'node:os'

import { z } from 'zod'

/** The architecture hyper-parameters hiexp's native decoder needs (camelCase mirror of config.json). */
export interface Qwen2Config {
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  headDim: number
  rmsNormEps: number
  ropeTheta: number
  tieWordEmbeddings: boolean
  initializerRange: number
  maxPositionEmbeddings: number
  bosTokenId?: number
  eosTokenId?: number | number[]
}

const positiveInt = z.number().int().positive()
const hfConfigSchema = z
  .object({
    model_type: z.string().optional(),
    vocab_size: positiveInt,
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt.optional(),
    head_dim: positiveInt.optional(),
    hidden_act: z.string().optional(),
    // Finite and in range before anything is allocated: rope_theta 1e-300 makes the rotary frequencies overflow to
    // inf (every score NaN, generate silently returns pad tokens), an epsilon below float32's range is a 1/0.
    rms_norm_eps: z.number().finite().min(1e-12, 'must be in [1e-12, 1] (Qwen2 uses 1e-6)').max(1, 'must be in [1e-12, 1] (Qwen2 uses 1e-6)').optional(),
    rope_theta: z.number().finite().min(1, 'must be a finite number >= 1 (the RoPE base; Qwen2 uses 1e6)').optional(),
    rope_scaling: z.unknown().optional(),
    tie_word_embeddings: z.boolean().optional(),
    initializer_range: z.number().finite().positive().max(1).optional(),
    max_position_embeddings: positiveInt.optional(),
    use_sliding_window: z.boolean().optional(),
    bos_token_id: z.number().int().nullable().optional(),
    eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  })
  .passthrough()

/** Reads a parsed config.json; throws an Error naming the field when it is not a Qwen2 config hiexp can run. */
export function configFromHf(json: unknown): Qwen2Config {
  const parsed = hfConfigSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new TypeError(`config.json: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  const c = parsed.data
  if (c.model_type !== undefined && c.model_type !== 'qwen2') {
    throw new RangeError(`config.json: model_type must be 'qwen2', got '${c.model_type}'`)
  }
  if (c.hidden_act !== undefined && c.hidden_act !== 'silu') {
    throw new RangeError(`config.json: hidden_act must be 'silu' (SwiGLU), got '${c.hidden_act}'`)
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    const type = (c.rope_scaling as { type?: string; rope_type?: string }).rope_type ?? (c.rope_scaling as { type?: string }).type
    if (type !== 'default') throw new RangeError(`config.json: rope_scaling '${type}' is not supported (only none/default)`)
  }
  if (c.use_sliding_window) throw new RangeError('config.json: use_sliding_window=true is not supported')
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads
  if (c.num_attention_heads % numKvHeads !== 0) {
    throw new RangeError(`config.json: num_key_value_heads (${numKvHeads}) must divide num_attention_heads (${c.num_attention_heads})`)
  }
  // Token ids are rows of the embedding table.
  const ids = [c.bos_token_id, ...(Array.isArray(c.eos_token_id) ? c.eos_token_id : [c.eos_token_id])]
  const outside = ids.find((id) => typeof id === 'number' && (id < 0 || id >= c.vocab_size))
  if (outside !== undefined) {
    throw new RangeError(`config.json: token id ${outside} (bos_token_id / eos_token_id) is outside the vocabulary [0, ${c.vocab_size - 1}] (vocab_size ${c.vocab_size})`)
  }
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new RangeError(`config.json: hidden_size / num_attention_heads must be an even integer, got ${headDim}`)
  }
  return {
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    ropeTheta: c.rope_theta ?? 1e6,
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    initializerRange: c.initializer_range ?? 0.02,
    maxPositionEmbeddings: c.max_position_embeddings ?? 32768,
    ...(typeof c.bos_token_id === 'number' ? { bosTokenId: c.bos_token_id } : {}),
    ...(c.eos_token_id !== undefined && c.eos_token_id !== null ? { eosTokenId: c.eos_token_id } : {}),
  }
}

/** config.json as transformers writes it for Qwen2ForCausalLM. */
export function configToHf(c: Qwen2Config, torchDtype = 'float32'): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    ...(c.headDim !== c.hiddenSize / c.numHeads ? { head_dim: c.headDim } : {}),
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieWordEmbeddings,
    initializer_range: c.initializerRange,
    max_position_embeddings: c.maxPositionEmbeddings,
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: c.numLayers,
    attention_dropout: 0.0,
    use_cache: true,
    torch_dtype: torchDtype,
    ...(c.bosTokenId !== undefined ? { bos_token_id: c.bosTokenId } : {}),
    ...(c.eosTokenId !== undefined ? { eos_token_id: c.eosTokenId } : {}),
  }
}

/**
 * The embedded default's size: a few million parameters at vocabulary ~4-8k (hidden 256, 4 layers, 4 heads with
 * 2 key/value heads, tied head). Overrides let tests shrink it further.
 */
export function tinyConfig(vocabSize: number, overrides: Partial<Qwen2Config> = {}): Qwen2Config {
  const base: Qwen2Config = {
    vocabSize,
    hiddenSize: 256,
    intermediateSize: 704,
    numLayers: 4,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 64,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    initializerRange: 0.02,
    maxPositionEmbeddings: 4096,
  }
  const merged = { ...base, ...overrides }
  if (overrides.hiddenSize !== undefined && overrides.headDim === undefined) merged.headDim = merged.hiddenSize / merged.numHeads
  if (overrides.numHeads !== undefined && overrides.headDim === undefined) merged.headDim = merged.hiddenSize / merged.numHeads
  return merged
}

/** Parameters of a config (embedding, layers, norm, and the head when untied). */
export function parameterCount(c: Qwen2Config): number {
  const q = c.numHeads * c.headDim
  const kv = c.numKvHeads * c.headDim
  const layer = 2 * c.hiddenSize + (c.hiddenSize * q + q) + 2 * (c.hiddenSize * kv + kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize
  return c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + c.hiddenSize
}

const BYTES_PER_PARAMETER: Record<string, number> = { float32: 4, bfloat16: 2, float16: 2 }
const GIB = 1024 ** 3

/**
 * Refuses, before anything is allocated, a config whose weights alone would not fit in `memory` (this machine's, by
 * default) as `dtype`: an absurd config.json (hidden_size 1e9, or 65536 with a full vocabulary) must be an error
 * naming its sizes, not a zero-filled allocation that wakes the OOM killer.
 */
export function checkConfigFitsMemory(
  c: Qwen2Config,
  dtype: string = 'float32',
  { memory = totalmem(), source = 'config' }: { memory?: number; source?: string } = {},
): void {
  const bytesPer = BYTES_PER_PARAMETER[dtype] ?? 4
  const bytes = parameterCount(c) * bytesPer
  if (bytes <= memory) return
  const q = c.numHeads * c.headDim
  const kv = c.numKvHeads * c.headDim
  const terms: [string, number][] = [
    ['vocab_size x hidden_size (embeddings)', c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2)],
    ['num_hidden_layers x hidden_size x intermediate_size (MLP)', c.numLayers * 3 * c.hiddenSize * c.intermediateSize],
    ['num_hidden_layers x hidden_size x heads x head_dim (attention)', c.numLayers * c.hiddenSize * (2 * q + 2 * kv)],
  ]
  const largest = terms.reduce((a, b) => (b[1] > a[1] ? b : a))[0]
  throw new RangeError(
    `${source}: hidden_size ${c.hiddenSize}, intermediate_size ${c.intermediateSize}, num_hidden_layers ${c.numLayers}, ` +
      `vocab_size ${c.vocabSize} make ${parameterCount(c).toExponential(3)} parameters, ${(bytes / GIB).toFixed(1)} GiB as ${dtype}, ` +
      `more than this machine's memory (${(memory / GIB).toFixed(1)} GiB); the largest term is ${largest}`,
  )
}
