// A run's rollout batches must fit in memory: an estimate of what one batch of rollouts holds, checked when the config
// is parsed so that a groupSize of 5000 (tens of GB) or 100000 (a stack overflow in the trainer's bookkeeping) is
// refused with the numbers, before any work, instead of growing until the kernel kills the process.
import { existsSync, readFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { join } from 'node:path'

/** The sizes that decide what a rollout holds: the decoder's KV cache and its vocabulary (logits per sampled token). */
export interface DecoderSize {
  numLayers: number
  numKvHeads: number
  headDim: number
  vocabSize: number
}

/** What the estimate needs of a run configuration (a resolved TrainConfig has it all). */
export interface RolloutBudget {
  questionsPerStep: number
  groupSize: number
  rollout: { maxTotalTokens: number }
  validation: { questions: number }
  experience: { enabled: boolean; buildQuestions: number; buildGroupSize: number }
  optimizer?: { microBatchTokens?: number }
  policy: {
    checkpoint?: string
    device: string
    dtype: 'float32' | 'bfloat16' | 'float16'
    tiny: { hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number }
  }
}

/**
 * JS-side bytes per rollout token: the growing token / mask / log-prob arrays (8 bytes a slot as JS numbers), their
 * typed copies, the trajectory record and the padded training batch (ids, masks, log-probs, advantages). Measured
 * order of magnitude, not an exact count.
 */
const JS_BYTES_PER_TOKEN = 64
/**
 * Copies of a row's KV cache alive at once: the row parked after its turn (its prefix) and the batch cache it is copied
 * into when the next turn resumes (bench/rl_step.ts --memory measured about 1 MB a rollout of the comparison policy
 * at groupSize 1024, against 0.64 MB for one copy).
 */
const KV_COPIES = 2
/** Float attention scores one cached prefill slice holds (native/model/qwen2.cc, kPrefillScoreBytes), and the copies
 * the eager attention keeps of them at once (scores, scaled, masked, softmax). */
const PREFILL_SCORE_BYTES = 32 * 2 ** 20
const PREFILL_SCORE_COPIES = 4
/** Node.js, libtorch and the loaded addon before any batch (287-293 MB measured by bench/rl_step.ts --memory-child). */
const RUNTIME_BYTES = 320 * 2 ** 20
/** Per training token of a micro-batch: logits, their log-softmax and its gradient, float32 (× vocabulary). */
const TRAIN_LOGIT_COPIES = 3
/** The training micro-batch budget when the config leaves it to the policy (lib/model/policy.ts, on a CPU). */
const DEFAULT_CPU_MICRO_BATCH_TOKENS = 2048
/** A word-level vocabulary of the generated world is a few hundred words; this bounds it from above. */
const TINY_VOCAB_BOUND = 8192
/** Share of the machine's memory a rollout batch may take (the policy, optimiser and Node need the rest). */
const MEMORY_SHARE = 0.75

/** The decoder a run will use: the checkpoint's config.json when readable, else the tiny policy's configured size. */
export function decoderSizeOf(policy: RolloutBudget['policy']): DecoderSize {
  if (policy.checkpoint !== undefined) {
    const file = join(policy.checkpoint, 'config.json')
    if (existsSync(file)) {
      try {
        const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
        const n = (key: string) => (typeof c[key] === 'number' && Number.isFinite(c[key]) && (c[key] as number) > 0 ? (c[key] as number) : undefined)
        const heads = n('num_attention_heads')
        const hidden = n('hidden_size')
        const layers = n('num_hidden_layers')
        const vocab = n('vocab_size')
        if (heads && hidden && layers && vocab) {
          return { numLayers: layers, numKvHeads: n('num_key_value_heads') ?? heads, headDim: n('head_dim') ?? hidden / heads, vocabSize: vocab }
        }
      } catch {
        // A broken config.json is reported, with its file, when the policy loads it.
      }
    }
  }
  const t = policy.tiny
  return { numLayers: t.numLayers, numKvHeads: t.numKvHeads, headDim: t.hiddenSize / t.numHeads, vocabSize: TINY_VOCAB_BOUND }
}

export interface RolloutMemoryEstimate {
  /** The largest batch of rollouts generated at once (RL step, HEK build or validation). */
  rollouts: number
  /** Which batch that is, as the config names it. */
  batch: string
  bytesPerRollout: number
  /** What a step holds beside its rollouts: the runtime, one prefill slice's attention, one training micro-batch. */
  fixedBytes: number
  /** fixedBytes + rollouts × bytesPerRollout. */
  bytes: number
}

/** Bytes a run's largest rollout batch needs at once: KV cache copies (on the CPU), sampling logits, JS arrays, plus
 * the step's fixed share. bench/rl_step.ts --memory prints it beside the measured peak RSS. */
export function estimateRolloutMemory(config: RolloutBudget, size: DecoderSize = decoderSizeOf(config.policy)): RolloutMemoryEstimate {
  const T = config.rollout.maxTotalTokens
  const onCpu = config.policy.device === 'cpu'
  const elementBytes = config.policy.dtype === 'float32' ? 4 : 2
  const kvPerToken = onCpu ? 2 * size.numLayers * size.numKvHeads * size.headDim * elementBytes : 0
  // Logits and sampling probabilities of one position per row, in float32.
  const bytesPerRollout = T * (KV_COPIES * kvPerToken + JS_BYTES_PER_TOKEN) + 2 * size.vocabSize * 4
  const batches: [string, number][] = [
    ['questionsPerStep × groupSize', config.questionsPerStep * config.groupSize],
    ['validation.questions', config.validation.questions],
  ]
  if (config.experience.enabled) batches.push(['experience.buildQuestions × experience.buildGroupSize', config.experience.buildQuestions * config.experience.buildGroupSize])
  const [batch, rollouts] = batches.reduce((a, b) => (b[1] > a[1] ? b : a))
  // The policy's default budget is capped so that one micro-batch's logits stay under 1 GiB; a set one is taken as is,
  // and no micro-batch holds more than the batch's tokens.
  const budget = config.optimizer?.microBatchTokens ?? Math.min(DEFAULT_CPU_MICRO_BATCH_TOKENS, Math.floor(2 ** 28 / size.vocabSize))
  const trainTokens = Math.min(budget, rollouts * T)
  const fixedBytes = RUNTIME_BYTES + (onCpu ? PREFILL_SCORE_COPIES * PREFILL_SCORE_BYTES + TRAIN_LOGIT_COPIES * trainTokens * size.vocabSize * 4 : 0)
  return { rollouts, batch, bytesPerRollout, fixedBytes, bytes: fixedBytes + rollouts * bytesPerRollout }
}

const human = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${(bytes / 2 ** 20).toFixed(1)} MB`)

/** Refuses a config whose largest rollout batch would take more than MEMORY_SHARE of `availableBytes`. */
export function checkRolloutMemory(config: RolloutBudget, availableBytes = totalmem(), size?: DecoderSize): RolloutMemoryEstimate {
  const e = estimateRolloutMemory(config, size)
  const limit = MEMORY_SHARE * availableBytes
  if (e.bytes > limit) {
    throw new RangeError(
      `train config: ${e.batch} = ${e.rollouts} rollouts of up to rollout.maxTotalTokens ${config.rollout.maxTotalTokens} tokens ` +
        `need about ${human(e.bytes)} at once (${human(e.bytesPerRollout)} each), more than ${Math.round(MEMORY_SHARE * 100)}% of this ` +
        `machine's ${human(availableBytes)}: lower groupSize / questionsPerStep (or the batch named), or rollout.maxTotalTokens`,
    )
  }
  return e
}
