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
  /** Default 1e-6, as verl. */
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
