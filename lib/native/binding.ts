// The typed boundary of the native addon: every function build/Release/hiexp.node exports, with its arguments and
// results as the C++ bindings read and build them (native/<concern>/bindings.cc, one register function per concern).
// tsc checks every call against this interface, and test/native/binding.test.ts checks at run time that the addon
// exports exactly NATIVE_FUNCTIONS, so a renamed, added or removed binding fails one or the other.
// The data-shape types of the kernels (policy loss, advantages) are declared here, at the bottom layer, and
// re-exported by lib/ops/rl/types.ts under the same names.

// ---------------------------------------------------------------------------------------------------------------
// Handles: native objects held by JavaScript (type-tagged napi Externals; a handle of another kind is refused with a
// TypeError at run time). The brands make tsc refuse one kind where another is expected.
declare const handleKind: unique symbol
interface Handle<Kind extends string> {
  readonly [handleKind]: Kind
}
/** A policy model (native/model). */
export type PolicyHandle = Handle<'policy'>
/** A generation session: the KV caches of one generate call (native/model). */
export type GenerationSessionHandle = Handle<'generation session'>
/** An optimiser bound to a policy (native/train). */
export type TrainerHandle = Handle<'trainer'>
/** A c10d process group (native/distributed). */
export type ProcessGroupHandle = Handle<'process group'>

// ---------------------------------------------------------------------------------------------------------------
// common: runtime information and threads (native/common/bindings.cc)

export interface RuntimeInfo {
  /** hiexp version the addon was built as. */
  version: string
  /** libtorch version the addon links. */
  torchVersion: string
  /** Whether the CUDA kernels were compiled in and linked. */
  cudaCompiled: boolean
  /** Devices the addon can use: 'cpu', then 'cuda:0', … */
  devices: string[]
  /** libtorch intra-op threads used by the native kernels. */
  threads: number
}

// ---------------------------------------------------------------------------------------------------------------
// rl: advantages and policy losses (native/rl/bindings.cc)

/** Group-relative advantage estimators (verl's names). */
export type AdvantageEstimator = 'grpo' | 'drgrpo' | 'rloo' | 'reinforce++-baseline'

export interface GroupAdvantageOptions {
  /** Group of each sequence (sequences of one question share an id); groups may differ in size. */
  groupIds?: Int32Array
  /** Or: consecutive groups of this many sequences. Exactly one of groupIds / groupSize. */
  groupSize?: number
  /** Default 'grpo'. */
  estimator?: AdvantageEstimator
  /** grpo only: divide by the group's (unbiased) std + eps. Default true. */
  normalizeStd?: boolean
  /**
   * Default 1e-6, as verl; any finite eps >= 0. With eps 0 a group whose rewards are all equal (std 0) gets advantage
   * 0, the limit of every eps > 0, instead of 0/0.
   */
  eps?: number
  /** Give a group of one sequence advantage 0 instead of verl's (its reward). Default false. */
  zeroSingletons?: boolean
  /** reinforce++-baseline only: response token counts, to whiten over tokens as verl does (default: over sequences). */
  tokenCounts?: Float32Array
}

export type PolicyLossAlgorithm = 'grpo' | 'gspo'
export type LossAggregation = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm'
export type KlEstimator = 'k1' | 'k2' | 'k3'

/** A batch of B sequences padded to T tokens, row-major. */
export interface PolicyLossBatch {
  /** Log-probs of the sampled tokens under the current policy (B*T). */
  logp: Float32Array
  /** Log-probs under the policy that sampled them (B*T). */
  oldLogp: Float32Array
  /** Per sequence (B) or per token (B*T). */
  advantages: Float32Array
  /** 1 where the loss sees the token (Uint8Array), or non-negative weights (Float32Array); B*T. */
  mask: Uint8Array | Float32Array
  /** Reference-policy log-probs for the KL term (B*T), needed when klCoef > 0. */
  refLogp?: Float32Array
  B: number
  T: number
}

export interface PolicyLossOptions {
  /** Default 'grpo'. */
  algorithm?: PolicyLossAlgorithm
  /** Ratio clip below 1: default 0.2 (grpo) or 3e-4 (gspo). */
  clipLow?: number
  /** Ratio clip above 1: default 0.2 (grpo) or 4e-4 (gspo). */
  clipHigh?: number
  /** Dual-clip constant c > 1 for negative advantages (off by default; verl uses 3). */
  dualClip?: number
  /** Default 'token-mean' (grpo) or 'seq-mean-token-mean' (gspo). */
  aggregation?: LossAggregation
  /** KL-to-reference coefficient (default 0: no KL term). */
  klCoef?: number
  /** Default 'k3' (verl's low_var_kl). */
  klEstimator?: KlEstimator
  /** Divisor of seq-mean-token-sum-norm (default T). */
  normLength?: number
}

export interface PolicyLossResult {
  /** pgLoss + klCoef * kl. */
  loss: number
  /** The policy-gradient part alone. */
  pgLoss: number
  /** d loss / d logp for every token (B*T); 0 where the mask is 0. */
  gradLogp: Float32Array
  /** Share of masked tokens (mask-weighted) whose clipped branch is active. */
  clipFraction: number
  /** Masked token mean of oldLogp - logp. */
  approxKl: number
  /** Aggregated KL to the reference, when klCoef > 0. */
  kl?: number
}

// ---------------------------------------------------------------------------------------------------------------
// cluster: scipy's linkage and pdist (native/cluster/bindings.cc)

export type LinkageMethod = 'single' | 'complete' | 'average' | 'weighted' | 'ward' | 'centroid' | 'median'
export type LinkageMetric = 'euclidean' | 'cosine' | 'precomputed'
export type GramKernel = 'builtin' | 'torch'

export interface NativeLinkageOptions {
  method: LinkageMethod
  metric?: LinkageMetric
  gram?: GramKernel
  /** Called on the main thread with the fraction done of the current phase. */
  onProgress?: (fraction: number, phase: 'distances' | 'linkage') => void
}

export interface NativePdistOptions {
  metric?: 'euclidean' | 'cosine'
  gram?: GramKernel
}

// ---------------------------------------------------------------------------------------------------------------
// model: the policy model and step-wise generation (native/model/bindings.cc)

/** The fields of a Qwen2 configuration the native model reads (lib/model/config.ts's Qwen2Config has them). */
export interface NativeQwen2Config {
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  headDim: number
  rmsNormEps: number
  ropeTheta: number
  tieWordEmbeddings?: boolean
  initializerRange?: number
}

export interface NativePolicyCreateOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string
  dtype?: 'float32' | 'bfloat16' | 'float16'
  /** Random initialisation with this seed; without it the weights are zeros, to be loaded. */
  seed?: number
}

export interface NativeParameterInfo {
  name: string
  shape: number[]
}

export interface NativeScoreOptions {
  entropy?: boolean
  microBatchSize?: number
}

export interface NativeScoreResult {
  /** B*T: log p(ids[b, t] | ids[b, <t]) for t >= 1, 0 at t = 0. */
  logprobs: Float32Array
  entropy?: Float32Array
}

export interface NativeSamplingOptions {
  maxNewTokens: number
  /** Prefill identical sequences once (default true). */
  sharePrompts?: boolean
  temperature?: number
  topP?: number
  topK?: number
  seed?: number
}

/** One sampled token (and its log-prob) per row of the session. */
export interface NativeSampled {
  tokens: Int32Array
  logprobs: Float32Array
}

export interface NativeDecodeOptions {
  maxNewTokens: number
  /** Stop strings (non-empty), matched on the pieces of the last `window` tokens. */
  stops?: string[]
  window?: number
  eosIds?: Int32Array
  /** Keep finished rows' caches for generateResume. */
  park?: boolean
}

/** Row b's tokens are tokens[sum(lengths[<b]) …]; finish 0 = length, 1 = EOS, 2 = stop string stops[stop[b]]. */
export interface NativeDecoded {
  tokens: Int32Array
  logprobs: Float32Array
  lengths: Int32Array
  finish: Int32Array
  stop: Int32Array
}

export interface NativeProfile {
  /** libtorch ops dispatched (nested ops included). */
  ops: number
  phases: Record<string, { ms: number; count: number }>
  /** The same count by operator name. */
  opsByName: Record<string, number>
}

export interface NativeGenerationStart extends NativeSampled {
  session: GenerationSessionHandle
}

// ---------------------------------------------------------------------------------------------------------------
// train: optimiser and steps (native/train/bindings.cc)

/** The optimiser options the native trainer reads (lib/model/policy.ts's OptimizerOptions). */
export interface NativeOptimizerOptions {
  /** Peak learning rate (default 1e-5). */
  lr?: number
  /** AdamW β1 (default 0.9). */
  beta1?: number
  /** AdamW β2 (default 0.999). */
  beta2?: number
  /** AdamW ε (default 1e-8). */
  eps?: number
  /** Decoupled weight decay (default 0.01). */
  weightDecay?: number
  /** Linear warm-up from lr/warmupSteps to lr over this many steps (default 0). */
  warmupSteps?: number
  /** After warm-up: 'constant' (default) or 'cosine' down to minLrRatio * lr at totalSteps. */
  schedule?: 'constant' | 'cosine'
  /** The step at which cosine reaches its floor (required with 'cosine'). */
  totalSteps?: number
  /** Cosine's floor as a share of lr (default 0). */
  minLrRatio?: number
  /** Clip the global gradient L2 norm to this (default 1; 0 turns clipping off). */
  maxGradNorm?: number
  /** Rows per forward/backward pass at most; gradients accumulate over the batch (default: no row limit). */
  microBatchSize?: number
  /**
   * Padded tokens (rows x longest row) per forward/backward pass at most. Rows are taken longest first and each
   * micro-batch is cut to its own longest row, so padding shrinks to about the sum of the lengths. Default: 2048 on
   * the CPU, 16384 on a GPU (capped so that one micro-batch's logits stay under 1 GiB).
   */
  microBatchTokens?: number
}

export interface NativeRlBatch {
  /** Right-padded token ids, B*T. */
  tokens: Int32Array
  /** B*T; 1 (or a weight) where the loss sees the token. */
  mask: Float32Array | Uint8Array
  /** B (per sequence) or B*T (per token). */
  advantages: Float32Array
  oldLogp?: Float32Array
  refLogp?: Float32Array
  B: number
  T: number
}

export interface NativeSftBatch {
  tokens: Int32Array
  mask: Float32Array | Uint8Array
  B: number
  T: number
}

export interface NativeTrainStats {
  loss: number
  pgLoss: number
  gradNorm: number
  clipFraction: number
  approxKl: number
  kl?: number
  entropy: number
  lr: number
  step: number
  tokens: number
  skipped: boolean
}

// ---------------------------------------------------------------------------------------------------------------
// distributed: c10d process groups (native/distributed/bindings.cc)

export type CollectiveArray = Float32Array | Float64Array | Int32Array
/** What a collective returns for an input of type T: a new array (own ArrayBuffer) of the same element type. */
export type CollectiveResult<T extends CollectiveArray> = T extends Float32Array
  ? Float32Array<ArrayBuffer>
  : T extends Float64Array
    ? Float64Array<ArrayBuffer>
    : Int32Array<ArrayBuffer>
export type NativeReduceOp = 'sum' | 'mean' | 'max' | 'min'

export interface NativeGroupOptions {
  rank: number
  worldSize: number
  masterAddr: string
  masterPort: number
  /** Default 'gloo'. */
  backend?: 'gloo' | 'nccl'
  timeoutMs: number
  cudaDevice?: number
  /** Connect to torchrun's agent store instead of serving one on rank 0. */
  agentStore?: boolean
}

// ---------------------------------------------------------------------------------------------------------------

/** Every function of build/Release/hiexp.node. */
export interface HiexpAddon {
  // common
  info(): RuntimeInfo
  setThreads(threads: number): void

  // rl (synchronous: the kernels run on the calling thread and copy nothing of size B*T but the gradient)
  groupAdvantages(rewards: Float32Array, options: GroupAdvantageOptions): Float32Array<ArrayBuffer>
  groupAdvantagesTorchOps(rewards: Float32Array, options: GroupAdvantageOptions): Float32Array<ArrayBuffer>
  broadcastAdvantages(
    advantages: Float32Array,
    mask: Uint8Array | Float32Array,
    shape: { B: number; T: number },
  ): Float32Array<ArrayBuffer>
  policyLoss(batch: PolicyLossBatch, options: PolicyLossOptions, output?: { out?: Float32Array }): PolicyLossResult
  policyLossAutograd(batch: PolicyLossBatch, options: PolicyLossOptions, placement?: { device?: string }): PolicyLossResult
  policyLossTorchOps(batch: PolicyLossBatch, options: PolicyLossOptions, placement?: { device?: string }): PolicyLossResult

  // cluster
  clusterLinkage(
    points: Float32Array | Float64Array,
    n: number,
    d: number,
    options: NativeLinkageOptions,
  ): Promise<Float64Array<ArrayBuffer>>
  clusterPdist(
    points: Float32Array | Float64Array,
    n: number,
    d: number,
    options?: NativePdistOptions,
  ): Promise<Float64Array<ArrayBuffer>>

  // model
  policyCreate(config: NativeQwen2Config, options: NativePolicyCreateOptions): Promise<PolicyHandle>
  policyParameters(policy: PolicyHandle): NativeParameterInfo[]
  /** Resolves to the names of tensors in the files that the model does not use. */
  policyLoad(policy: PolicyHandle, files: string[]): Promise<string[]>
  policySave(policy: PolicyHandle, path: string, names?: string[]): Promise<void>
  /** B*T*V float32 logits of a right-padded batch. */
  policyLogits(policy: PolicyHandle, ids: Int32Array, B: number, T: number): Promise<Float32Array<ArrayBuffer>>
  policyScore(
    policy: PolicyHandle,
    ids: Int32Array,
    B: number,
    T: number,
    options?: NativeScoreOptions,
  ): Promise<NativeScoreResult>
  /** ids: the prompts concatenated; lengths: each prompt's length. */
  generateStart(
    policy: PolicyHandle,
    ids: Int32Array,
    lengths: Int32Array,
    options: NativeSamplingOptions,
  ): Promise<NativeGenerationStart>
  /** Continues row from[i] of a parked session with the suffix ids[...lengths[i]]; the policy's RNG seeds it when options.seed is absent. */
  generateResume(
    previous: GenerationSessionHandle,
    from: Int32Array,
    ids: Int32Array,
    lengths: Int32Array,
    options: NativeSamplingOptions,
    policy: PolicyHandle,
  ): Promise<NativeGenerationStart>
  /** One more token for the rows in keep (all rows when absent); with park the dropped rows' caches are kept. */
  generateStep(session: GenerationSessionHandle, keep?: Int32Array, park?: boolean): Promise<NativeSampled>
  generateEnd(session: GenerationSessionHandle, park?: boolean): Promise<void>
  /** The rest of the turn of every row of a just started/resumed session, natively (native/model/decode_loop.h). */
  generateDecode(session: GenerationSessionHandle, policy: PolicyHandle, options: NativeDecodeOptions): Promise<NativeDecoded>
  /** Sets the text piece of every token id (bytes[offsets[v], offsets[v + 1])), read by generateDecode's stop strings. */
  policySetPieces(policy: PolicyHandle, bytes: Uint8Array, offsets: Int32Array): void
  /** One packed (unpadded) forward, then one packed forward+backward, of the sequences: bench/rl_step.ts's bound. */
  policyPackedBound(policy: PolicyHandle, ids: Int32Array, lengths: Int32Array): Promise<{ forwardMs: number; forwardBackwardMs: number; logprobs: Float32Array }>
  /** Starts recording native phase times and the count of libtorch ops (common/profile.h). */
  profileStart(): void
  profileStop(): NativeProfile

  // train
  trainerCreate(policy: PolicyHandle, optimizer: NativeOptimizerOptions): TrainerHandle
  trainerSetOptions(trainer: TrainerHandle, optimizer: NativeOptimizerOptions): void
  /** Optimiser steps taken. */
  trainerStep(trainer: TrainerHandle): number
  trainerRlStep(trainer: TrainerHandle, batch: NativeRlBatch, loss: PolicyLossOptions): Promise<NativeTrainStats>
  trainerSftStep(trainer: TrainerHandle, batch: NativeSftBatch): Promise<NativeTrainStats>
  trainerResetReference(trainer: TrainerHandle): Promise<void>
  trainerSetProcessGroup(trainer: TrainerHandle, group: ProcessGroupHandle | null): void
  trainerSave(trainer: TrainerHandle, dir: string): Promise<void>
  trainerLoadState(trainer: TrainerHandle, dir: string): Promise<void>

  // distributed
  distBackends(): { gloo: boolean; nccl: boolean }
  distInit(options: NativeGroupOptions): Promise<ProcessGroupHandle>
  distAllReduce<T extends CollectiveArray>(group: ProcessGroupHandle, data: T, op?: NativeReduceOp): Promise<CollectiveResult<T>>
  distBroadcast<T extends CollectiveArray>(group: ProcessGroupHandle, data: T, root: number): Promise<CollectiveResult<T>>
  distBarrier(group: ProcessGroupHandle): Promise<void>
  distDestroy(group: ProcessGroupHandle): Promise<void>
  distBroadcastPolicy(group: ProcessGroupHandle, policy: PolicyHandle, root: number): Promise<void>
}

/** The names of HiexpAddon's functions, at run time (the addon must export exactly these). */
export const NATIVE_FUNCTIONS = [
  'info',
  'setThreads',
  'groupAdvantages',
  'groupAdvantagesTorchOps',
  'broadcastAdvantages',
  'policyLoss',
  'policyLossAutograd',
  'policyLossTorchOps',
  'clusterLinkage',
  'clusterPdist',
  'policyCreate',
  'policyParameters',
  'policyLoad',
  'policySave',
  'policyLogits',
  'policyScore',
  'generateStart',
  'generateResume',
  'generateStep',
  'generateEnd',
  'generateDecode',
  'policySetPieces',
  'policyPackedBound',
  'profileStart',
  'profileStop',
  'trainerCreate',
  'trainerSetOptions',
  'trainerStep',
  'trainerRlStep',
  'trainerSftStep',
  'trainerResetReference',
  'trainerSetProcessGroup',
  'trainerSave',
  'trainerLoadState',
  'distBackends',
  'distInit',
  'distAllReduce',
  'distBroadcast',
  'distBarrier',
  'distDestroy',
  'distBroadcastPolicy',
] as const satisfies readonly (keyof HiexpAddon)[]

// tsc fails here, naming the function, when HiexpAddon declares one that NATIVE_FUNCTIONS lacks (`satisfies` above
// catches the converse: a listed name HiexpAddon does not declare).
type Unlisted = Exclude<keyof HiexpAddon, (typeof NATIVE_FUNCTIONS)[number]>
const everyFunctionListed: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true
void everyFunctionListed
