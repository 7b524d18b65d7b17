import { native } from '../../native/loader.js'
import type { GroupAdvantageOptions } from './types.js'

/**
 * One advantage per sequence from one reward per sequence, relative to the sequence's group (native kernel).
 * grpo: (r - mean) / (std + eps), 0 for a group of equal rewards (also at eps 0); drgrpo: r - mean; rloo: r - mean of the others; reinforce++-baseline: r - mean,
 * whitened over the batch. A group of one keeps its reward (verl) unless zeroSingletons.
 */
export function groupAdvantages(rewards: Float32Array, options: GroupAdvantageOptions): Float32Array {
  return native().groupAdvantages(rewards, options)
}

/** Per-token advantages (B*T): each sequence's advantage on its masked tokens, 0 elsewhere. */
export function broadcastAdvantages(
  advantages: Float32Array,
  mask: Uint8Array | Float32Array,
  B: number,
  T: number,
): Float32Array {
  return native().broadcastAdvantages(advantages, mask, { B, T })
}

/** The grpo / drgrpo estimators as libtorch ops (index_add over groups): the baseline of bench/kernels.ts. */
export function groupAdvantagesTorch(rewards: Float32Array, options: GroupAdvantageOptions): Float32Array {
  return native().groupAdvantagesTorchOps(rewards, options)
}
