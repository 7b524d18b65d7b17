// The policy: a Qwen2-architecture decoder in the native addon (generation with a KV cache, scoring, training steps,
// checkpoints) with its tokenizer. Implements GenerationPolicy, the agent loop's only view of a model.
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ProcessGroup } from '../distributed/group.js'
import type { GenerationSessionHandle, NativeOptimizerOptions, NativeSampled, NativeSamplingOptions, PolicyHandle, TrainerHandle } from '../native/binding.js'
import { native, type NativeAddon } from '../native/loader.js'
import type { PolicyLossOptions } from '../ops/rl/types.js'
import { checkConfigFitsMemory, configFromHf, configToHf, parameterCount, type Qwen2Config } from './config.js'
import type { GenerateOptions, Generation, GenerationPolicy } from './generation.js'
import { checkpointWeightFiles } from './shard_paths.js'
import { readJsonFile } from '../util/json_file.js'
import { writeFileAtomic } from '../util/atomic.js'
import { Tokenizer } from './tokenizer.js'
import { matchesLikeText, tokenPieces, type TokenPieces } from './token_pieces.js'

export type PolicyDtype = 'float32' | 'bfloat16' | 'float16'

export interface PolicyOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string
  /** Default 'float32' (use 'bfloat16' on a GPU). */
  dtype?: PolicyDtype
}

/** AdamW, its schedule and the micro-batches of a training step (the native trainer's options, documented there). */
export type OptimizerOptions = NativeOptimizerOptions

/** The option names of OptimizerOptions (the record type keeps the list complete). */
const OPTIMIZER_KEYS: Record<keyof OptimizerOptions, true> = {
  lr: true, beta1: true, beta2: true, eps: true, weightDecay: true, warmupSteps: true, schedule: true, totalSteps: true,
  minLrRatio: true, maxGradNorm: true, microBatchSize: true, microBatchTokens: true,
}

/**
 * A batch for trainStep: sequences (prompt + response, different lengths), a per-token loss mask (1 on response tokens
 * the policy produced, 0 on prompt and <information> tokens; index 0 must be 0), advantages per sequence (or per
 * token), and the sampling log-probs (per token, aligned with the sequence; index 0 ignored). Without oldLogprobs the
 * step is on-policy (ratio 1).
 */
export interface RlBatch {
  sequences: number[][]
  masks: ArrayLike<number>[]
  advantages: ArrayLike<number> | ArrayLike<number>[]
  oldLogprobs?: ArrayLike<number>[]
  /**
   * Per-token log-probs of the KL target (aligned like oldLogprobs); with loss.klCoef > 0 they replace the frozen
   * reference copy. HiExp's regulariser passes the experience-conditioned sampling log-probs here.
   */
  refLogprobs?: ArrayLike<number>[]
}

export interface SftBatch {
  sequences: number[][]
  /** 1 where the token is a target (its log-prob enters the loss). */
  masks: ArrayLike<number>[]
}

export interface TrainStats {
  /** Total loss (policy-gradient + klCoef * kl), or the masked cross-entropy for sftStep. */
  loss: number
  pgLoss: number
  /** Global gradient norm before clipping. */
  gradNorm: number
  clipFraction: number
  /** Masked mean of oldLogp - logp (before the update). */
  approxKl: number
  /** KL to the frozen reference (when klCoef > 0). */
  kl?: number
  /** Masked mean entropy of the policy's next-token distribution (before the update). */
  entropy: number
  /** Learning rate used. */
  lr: number
  /** Optimiser steps completed. */
  step: number
  /** Masked tokens in the batch. */
  tokens: number
  /** True when the gradient norm was not finite and no update was applied. */
  skipped: boolean
}

export interface ScoreResult {
  /** logprobs[i][t] = log p(seq[t] | seq[<t]) for t >= 1; 0 at t = 0. */
  logprobs: Float32Array[]
  entropy?: Float32Array[]
}

/** Right-pads sequences into one Int32Array [B, T] (pad 0: causal attention never lets a real token see it). */
export function padBatch(sequences: number[][]): { ids: Int32Array; B: number; T: number } {
  const B = sequences.length
  if (B === 0) throw new RangeError('sequences must hold at least one sequence')
  let T = 0
  for (const s of sequences) T = Math.max(T, s.length)
  if (T === 0) throw new RangeError('sequences are all empty')
  const ids = new Int32Array(B * T)
  sequences.forEach((s, b) => ids.set(s, b * T))
  return { ids, B, T }
}

/** Per-token rows padded to [B, T]; each row must be as long as its sequence (a shorter mask would train on padding). */
function padValues(rows: ArrayLike<number>[], B: number, T: number, name: string, sequences: readonly ArrayLike<number>[]): Float32Array {
  if (rows.length !== B) throw new RangeError(`${name} must hold one row per sequence (${B}), got ${rows.length}`)
  const out = new Float32Array(B * T)
  rows.forEach((r, b) => {
    if (r.length !== sequences[b].length) throw new RangeError(`${name}[${b}] has ${r.length} values for the ${sequences[b].length} tokens of sequences[${b}]: one per token expected`)
    for (let t = 0; t < r.length; t++) out[b * T + t] = r[t]
  })
  return out
}

// Nothing predicts a sequence's first token, so the loss cannot see it.
function flatten(sequences: number[][]): [Int32Array, Int32Array] {
  const lengths = Int32Array.from(sequences.map((s) => s.length))
  const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0))
  let at = 0
  for (const s of sequences) {
    ids.set(s, at)
    at += s.length
  }
  return [ids, lengths]
}

function checkFirstUnmasked(mask: Float32Array, B: number, T: number): void {
  for (let b = 0; b < B; b++) {
    if (mask[b * T] !== 0) throw new RangeError(`masks[${b}][0] must be 0: no log-prob exists for a sequence's first token`)
  }
}

interface ParkedGeneration {
  session: GenerationSessionHandle
  /** Per sequence of that call: the tokens whose keys and values are cached (the sequence, then all new tokens but the last). */
  fed: number[][]
}

function isPrefix(prefix: number[], seq: number[]): boolean {
  if (prefix.length >= seq.length) return false
  for (let i = prefix.length - 1; i >= 0; i--) if (prefix[i] !== seq[i]) return false
  return true
}

export class Policy implements GenerationPolicy {
  /**
   * Keep the last generate() call's KV caches, so that a call whose every sequence extends one of that call's
   * sequences (the agent appending <information>…) prefills only the new tokens. Dropped when the weights change.
   */
  prefixCache = true
  /**
   * Run each generate() call's decode loop natively, stop strings matched on the tokens' text pieces
   * (native/model/decode_loop.h): one native call per turn instead of one per token. Same tokens as the step-wise loop
   * (false), which is kept for tokenizers whose pieces do not join into their decoded text, and for comparison.
   */
  nativeDecode = true
  /** Prefill identical prompts of one call once (a group's rollouts share theirs); false prefills every row. */
  sharePrompts = true
  /** What the last generate() call prefilled: all prompt tokens, or (resumed) only those after the cached prefixes. */
  lastPrefill: { resumed: boolean; tokens: number } = { resumed: false, tokens: 0 }
  private trainer?: TrainerHandle
  private optimizer: OptimizerOptions = {}
  private parked?: ParkedGeneration
  private piecesSet = false
  private group?: ProcessGroup

  private constructor(
    private readonly handle: PolicyHandle,
    readonly config: Qwen2Config,
    readonly tokenizer: Tokenizer,
    readonly device: string,
    readonly dtype: PolicyDtype,
  ) {}

  private static n(): NativeAddon {
    return native()
  }

  /** A randomly initialised policy (transformers' init: normal(0, initializerRange), zero biases, unit norms). */
  static async create(config: Qwen2Config, tokenizer: Tokenizer, opts: PolicyOptions & { seed?: number } = {}): Promise<Policy> {
    checkVocabulary(config, tokenizer, 'config.vocabSize')
    const device = opts.device ?? 'cpu'
    const dtype = opts.dtype ?? 'float32'
    if (device === 'cpu') checkConfigFitsMemory(config, dtype)
    const handle = await Policy.n().policyCreate(config, { device, dtype, seed: opts.seed ?? 0 })
    return new Policy(handle, config, tokenizer, device, dtype)
  }

  /**
   * Loads a Hugging Face checkpoint folder: config.json, model.safetensors or model.safetensors.index.json with its
   * shards, tokenizer.json (+ tokenizer_config.json, generation_config.json). A real Qwen2/2.5 folder loads as it is.
   */
  static async load(dir: string, opts: PolicyOptions = {}): Promise<Policy> {
    const configPath = join(dir, 'config.json')
    if (!existsSync(dir) && /^[\w.-]+\/[\w.-]+$/.test(dir)) {
      throw new Error(
        `Policy.load: '${dir}' looks like a Hugging Face Hub id, but hiexp reads local folders only and never downloads: ` +
          `download it first (huggingface-cli download ${dir} --local-dir models/${dir.split('/')[1]}) and pass that folder`,
      )
    }
    if (!existsSync(configPath)) throw new Error(`Policy.load: ${configPath} is missing`)
    const config = configFromHf(await readJsonFile(configPath))
    const device = opts.device ?? 'cpu'
    const dtype = opts.dtype ?? 'float32'
    if (device === 'cpu') checkConfigFitsMemory(config, dtype, { source: configPath })
    const tokenizer = await Tokenizer.fromDir(dir)
    // An id past the embedding table would be read out of bounds: refused as Policy.create refuses it.
    checkVocabulary(config, tokenizer, `${configPath}: vocab_size`)
    const files = await Policy.weightFiles(dir)  // a hostile folder is refused before anything is allocated
    const handle = await Policy.n().policyCreate(config, { device, dtype })
    const policy = new Policy(handle, config, tokenizer, device, dtype)
    await Policy.n().policyLoad(handle, files)
    return policy
  }

  private static async weightFiles(dir: string): Promise<string[]> {
    return checkpointWeightFiles(dir)
  }

  /** Number of parameters. */
  get parameterCount(): number {
    return parameterCount(this.config)
  }

  /**
   * Writes a Hugging Face folder: config.json, model.safetensors (or shards of at most maxShardBytes with
   * model.safetensors.index.json), tokenizer.json, tokenizer_config.json. Each file via a temporary file and a rename.
   */
  async save(dir: string, opts: { maxShardBytes?: number } = {}): Promise<void> {
    await mkdir(dir, { recursive: true })
    const n = Policy.n()
    const params = n.policyParameters(this.handle)
    const bytesPer = this.dtype === 'float32' ? 4 : 2
    const sizes = params.map((p) => p.shape.reduce((a, b) => a * b, 1) * bytesPer)
    const total = sizes.reduce((a, b) => a + b, 0)
    const max = opts.maxShardBytes ?? Infinity
    if (total <= max) {
      await n.policySave(this.handle, join(dir, 'model.safetensors'))
    } else {
      const shards: string[][] = [[]]
      let used = 0
      params.forEach((p, i) => {
        if (used > 0 && used + sizes[i] > max) {
          shards.push([])
          used = 0
        }
        shards[shards.length - 1].push(p.name)
        used += sizes[i]
      })
      const weightMap: Record<string, string> = {}
      const pad = (k: number) => String(k).padStart(5, '0')
      for (let s = 0; s < shards.length; s++) {
        const file = `model-${pad(s + 1)}-of-${pad(shards.length)}.safetensors`
        await n.policySave(this.handle, join(dir, file), shards[s])
        for (const name of shards[s]) weightMap[name] = file
      }
      writeFileAtomic(join(dir, 'model.safetensors.index.json'),
        JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2))
    }
    await this.writeJsonFiles(dir)
  }

  private async writeJsonFiles(dir: string): Promise<void> {
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(configToHf(this.config, this.dtype), null, 2))
    writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(this.tokenizer.json))
    writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizer.config, null, 2))
    const eos = this.tokenizer.eosIds
    writeFileAtomic(join(dir, 'generation_config.json'),
      JSON.stringify({ eos_token_id: eos.length === 1 ? eos[0] : eos, pad_token_id: this.tokenizer.padId }, null, 2))
  }

  /** Logits [T_i * V] of each sequence (float32), no grad: for tests and parity checks. */
  async logits(sequences: number[][]): Promise<Float32Array[]> {
    const { ids, B, T } = padBatch(sequences)
    const flat = await Policy.n().policyLogits(this.handle, ids, B, T)
    const V = this.config.vocabSize
    return sequences.map((s, b) => flat.slice(b * T * V, (b * T + s.length) * V))
  }

  /** Per-token log-probs (and entropies) of each sequence under the current weights, batched, no grad. */
  async score(sequences: number[][], opts: { entropy?: boolean; microBatchSize?: number } = {}): Promise<ScoreResult> {
    const { ids, B, T } = padBatch(sequences)
    const r = await Policy.n().policyScore(this.handle, ids, B, T, opts)
    const cut = (flat: Float32Array) => sequences.map((s, b) => flat.slice(b * T, b * T + s.length))
    return { logprobs: cut(r.logprobs), entropy: r.entropy ? cut(r.entropy) : undefined }
  }

  /**
   * Continues each sequence until a stop string, an EOS id (tokenizer.eosIds) or maxNewTokens. Prompts of different
   * lengths share one left-padded batch and a KV cache; finished rows leave the batch. Stop strings are matched on the
   * text of the last tokens after every step: natively on their pieces (nativeDecode), else on decoded text. A call whose every sequence extends one of the previous call's
   * sequences (the agent appended <information>…) starts from that call's KV caches and prefills only the new tokens
   * (see prefixCache); otherwise everything is prefilled. Unseeded calls draw their seed from the policy's RNG, which
   * checkpoints save.
   */
  async generate(sequences: number[][], opts: GenerateOptions): Promise<Generation[]> {
    if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) {
      throw new RangeError(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`)
    }
    if (sequences.length === 0) return []
    const stops = (opts.stop ?? []).filter((s) => s.length > 0)
    const window = stops.length ? Math.max(...stops.map((s) => s.length)) + 4 : 0
    const eos = new Set(this.tokenizer.eosIds)
    const n = Policy.n()
    const out: Generation[] = sequences.map(() => ({ tokens: [], logprobs: [], text: '', finish: 'length' }))
    const options = {
      maxNewTokens: opts.maxNewTokens,
      temperature: opts.temperature ?? 1,
      topP: opts.topP ?? 1,
      topK: opts.topK ?? 0,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      sharePrompts: this.sharePrompts,
    }
    const parkedBefore = this.parked
    let first = await this.resume(sequences, options)
    if (first === undefined) {
      this.lastPrefill = { resumed: false, tokens: sequences.reduce((a, s) => a + s.length, 0) }
      first = await n.generateStart(this.handle, ...flatten(sequences), options)
    }
    const park = this.prefixCache
    const session = first.session
    const pieces = this.nativeDecode ? this.piecesFor(stops) : null
    try {
      if (pieces) {
        const r = await n.generateDecode(session, this.handle, {
          maxNewTokens: opts.maxNewTokens,
          ...(stops.length ? { stops, window } : {}),
          eosIds: Int32Array.from(eos),
          park,
        })
        let at = 0
        out.forEach((g, i) => {
          const len = r.lengths[i]
          g.tokens = Array.from(r.tokens.subarray(at, at + len))
          g.logprobs = Array.from(r.logprobs.subarray(at, at + len))
          at += len
          g.finish = r.finish[i] === 1 ? 'eos' : r.finish[i] === 2 ? 'stop' : 'length'
          if (g.finish === 'stop') g.stopString = stops[r.stop[i]]
        })
      } else {
        await this.decodeStepwise(session, first, out, { stops, window, eos, maxNewTokens: opts.maxNewTokens, park })
      }
    } catch (error) {
      await n.generateEnd(session, false)
      throw error
    }
    await n.generateEnd(session, park)
    if (park && this.parked === parkedBefore && this.prefixCache) {
      // Replaces the previous call's caches (unless another call replaced them meanwhile: then these go instead).
      if (parkedBefore) await n.generateEnd(parkedBefore.session, false)
      this.parked = { session, fed: sequences.map((s, i) => [...s, ...out[i].tokens.slice(0, -1)]) }
    } else if (park) {
      await n.generateEnd(session, false)
    }
    for (const g of out) {
      const visible = g.finish === 'eos' ? g.tokens.slice(0, -1) : g.tokens
      g.text = this.tokenizer.decode(visible)
    }
    if (pieces && out.some((g) => (g.finish === 'stop' ? !g.text.includes(g.stopString!) : stops.some((s) => g.text.includes(s))))) {
      // The piece table passed its check yet disagrees with decoded text: trust text from now on.
      this.nativeDecode = false
      process.emitWarning('hiexp: native stop-string matching disagreed with decoded text; this policy decodes step by step from now on')
    }
    return out
  }

  /** The JavaScript-driven decode loop: one native step per token, stop strings checked on decoded text. */
  private async decodeStepwise(
    session: GenerationSessionHandle,
    first: NativeSampled,
    out: Generation[],
    o: { stops: string[]; window: number; eos: Set<number>; maxNewTokens: number; park: boolean },
  ): Promise<void> {
    const n = Policy.n()
    const done = new Array<boolean>(out.length).fill(false)
    let rows = out.map((_, i) => i) // batch row -> sequence index
    let step = first
    for (;;) {
      rows.forEach((i, r) => {
        const g = out[i]
        const token = step.tokens[r]
        g.tokens.push(token)
        g.logprobs.push(step.logprobs[r])
        if (o.eos.has(token)) {
          g.finish = 'eos'
          done[i] = true
          return
        }
        if (o.window > 0) {
          const tail = this.tokenizer.decode(g.tokens.slice(-o.window))
          const hit = o.stops.find((s) => tail.includes(s))
          if (hit !== undefined) {
            g.finish = 'stop'
            g.stopString = hit
            done[i] = true
            return
          }
        }
        if (g.tokens.length >= o.maxNewTokens) {
          g.finish = 'length'
          done[i] = true
        }
      })
      const keep: number[] = []
      rows.forEach((i, r) => {
        if (!done[i]) keep.push(r)
      })
      if (keep.length === 0) return
      const compact = keep.length < rows.length
      step = await n.generateStep(session, compact ? Int32Array.from(keep) : undefined, o.park)
      if (compact) rows = keep.map((r) => rows[r])
    }
  }

  /**
   * The tokenizer's piece table, handed to the addon once; null (the step-wise loop) when its pieces do not join into
   * decoded text, or when a stop string could match pieces and text differently (token_pieces.ts, matchesLikeText).
   */
  private piecesFor(stops: readonly string[]): TokenPieces | null {
    const table = tokenPieces(this.tokenizer, this.tokenizer.padId)
    if (!table || !stops.every((s) => matchesLikeText(table, s))) return null
    if (!this.piecesSet) {
      Policy.n().policySetPieces(this.handle, table.bytes, table.offsets)
      this.piecesSet = true
    }
    return table
  }

  /** Starts from the parked caches when every sequence extends a sequence of the last call; undefined otherwise. */
  private async resume(sequences: number[][], options: NativeSamplingOptions) {
    const parked = this.parked
    if (!this.prefixCache || !parked) return undefined
    const from: number[] = []
    for (let i = 0; i < sequences.length; i++) {
      let match = i < parked.fed.length && isPrefix(parked.fed[i], sequences[i]) ? i : -1
      for (let j = 0; match < 0 && j < parked.fed.length; j++) if (isPrefix(parked.fed[j], sequences[i])) match = j
      if (match < 0) return undefined
      from.push(match)
    }
    const suffixes = sequences.map((s, i) => s.slice(parked.fed[from[i]].length))
    try {
      this.lastPrefill = { resumed: true, tokens: suffixes.reduce((a, s) => a + s.length, 0) }
      return await Policy.n().generateResume(parked.session, Int32Array.from(from), ...flatten(suffixes), options, this.handle)
    } catch (error) {
      // The caches were released by a concurrent call: prefill from scratch.
      if (error instanceof RangeError && /no cached prefix/.test(error.message)) return undefined
      throw error
    }
  }

  /** Releases the caches kept for resuming generation (done automatically when the weights change). */
  async clearPrefixCache(): Promise<void> {
    const parked = this.parked
    this.parked = undefined
    if (parked) await Policy.n().generateEnd(parked.session, false)
  }

  /** Sets the optimiser and schedule for trainStep / sftStep (kept across steps; the moments are kept too). */
  configureTraining(opts: OptimizerOptions): void {
    const unknown = Object.keys(opts ?? {}).filter((k) => !(k in OPTIMIZER_KEYS))
    if (unknown.length > 0) {
      throw new RangeError(`configureTraining: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(OPTIMIZER_KEYS).join(', ')})`)
    }
    this.optimizer = { ...opts }
    if (this.trainer) Policy.n().trainerSetOptions(this.trainer, this.optimizer)
  }

  private trainerHandle(): TrainerHandle {
    if (!this.trainer) this.trainer = Policy.n().trainerCreate(this.handle, this.optimizer)
    return this.trainer
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.trainer ? Policy.n().trainerStep(this.trainer) : 0
  }

  /**
   * One RL step: log-probs with grad -> the native GRPO/GSPO loss (hx.policyLoss's formulas and defaults) -> backward
   * over micro-batches -> clip -> AdamW. With loss.klCoef > 0 the KL is taken to a frozen copy of the weights made at
   * the first such step (or by resetReference()).
   */
  async trainStep(batch: RlBatch, loss: PolicyLossOptions = {}): Promise<TrainStats> {
    const { ids, B, T } = padBatch(batch.sequences)
    const mask = padValues(batch.masks, B, T, 'masks', batch.sequences)
    checkFirstUnmasked(mask, B, T)
    let advantages: Float32Array
    if (batch.advantages.length === B && typeof (batch.advantages as ArrayLike<unknown>)[0] === 'number') {
      advantages = Float32Array.from(batch.advantages as ArrayLike<number>)
    } else {
      advantages = padValues(batch.advantages as ArrayLike<number>[], B, T, 'advantages', batch.sequences)
    }
    const native = {
      tokens: ids,
      mask,
      advantages,
      B,
      T,
      ...(batch.oldLogprobs ? { oldLogp: padValues(batch.oldLogprobs, B, T, 'oldLogprobs', batch.sequences) } : {}),
      ...(batch.refLogprobs ? { refLogp: padValues(batch.refLogprobs, B, T, 'refLogprobs', batch.sequences) } : {}),
    }
    await this.clearPrefixCache()
    return Policy.n().trainerRlStep(this.trainerHandle(), native, loss)
  }

  /** One supervised step: masked token-mean cross-entropy, same optimiser and schedule as trainStep. */
  async sftStep(batch: SftBatch): Promise<TrainStats> {
    const { ids, B, T } = padBatch(batch.sequences)
    const mask = padValues(batch.masks, B, T, 'masks', batch.sequences)
    checkFirstUnmasked(mask, B, T)
    await this.clearPrefixCache()
    return Policy.n().trainerSftStep(this.trainerHandle(), { tokens: ids, mask, B, T })
  }

  /**
   * Data-parallel training (lib/distributed): every rank calls this with the group; rank 0's weights are broadcast to all.
   * From then on trainStep / sftStep take each rank's batch as its shard of the global batch (loss normalisers over
   * all ranks, gradients summed over ranks: native/distributed/data_parallel.h) and saveCheckpoint writes on rank 0 only.
   * undefined detaches.
   */
  async attachProcessGroup(group: ProcessGroup | undefined): Promise<void> {
    await this.clearPrefixCache()
    if (group) await Policy.n().distBroadcastPolicy(group.handle, this.handle, 0)
    Policy.n().trainerSetProcessGroup(this.trainerHandle(), group?.handle ?? null)
    this.group = group
  }

  /** Freezes a copy of the current weights as the KL reference. */
  async resetReference(): Promise<void> {
    await Policy.n().trainerResetReference(this.trainerHandle())
  }

  /**
   * A training checkpoint: the Hugging Face folder (loadable by Policy.load and transformers) plus
   * trainer_state.safetensors (AdamW moments, step, sampler RNG, KL reference) and hiexp_trainer.json (optimiser
   * options); hiexp_trainer.json is written last, so a folder without it is an interrupted save.
   */
  async saveCheckpoint(dir: string): Promise<void> {
    // Data parallel: every rank calls this; rank 0 alone writes, and all return once the folder is whole.
    if (this.group && this.group.rank !== 0) return this.group.barrier()
    await mkdir(dir, { recursive: true })
    // Overwriting a checkpoint: remove its marker first, so that a save cut short is never taken for a whole one.
    await rm(join(dir, 'hiexp_trainer.json'), { force: true })
    await Policy.n().trainerSave(this.trainerHandle(), dir)
    await this.writeJsonFiles(dir)
    writeFileAtomic(join(dir, 'hiexp_trainer.json'), JSON.stringify({ optimizer: this.optimizer, step: this.step }, null, 2))
    if (this.group) await this.group.barrier()
  }

  /** Restores a checkpoint written by saveCheckpoint: weights, optimiser, step, RNG and reference. */
  static async loadCheckpoint(dir: string, opts: PolicyOptions = {}): Promise<Policy> {
    const metaPath = join(dir, 'hiexp_trainer.json')
    if (!existsSync(metaPath)) throw new Error(`Policy.loadCheckpoint: ${metaPath} is missing (not a checkpoint, or an interrupted save)`)
    const meta = (await readJsonFile(metaPath)) as { optimizer: OptimizerOptions }
    const policy = await Policy.load(dir, opts)
    policy.configureTraining(meta.optimizer)
    await Policy.n().trainerLoadState(policy.trainerHandle(), dir)
    return policy
  }
}

/** The tokenizer's ids must all have a row in the embedding table. */
function checkVocabulary(config: Qwen2Config, tokenizer: Tokenizer, name: string): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new RangeError(`${name} (${config.vocabSize}) is smaller than the tokenizer's vocabulary (${tokenizer.vocabSize} ids)`)
  }
}
