import { native } from '../native.js'
import type { PolicyLossBatch, PolicyLossOptions, PolicyLossResult } from './types.js'

/**
 * GRPO (token-level clipped surrogate) or GSPO (sequence-level ratio) loss and its gradient with respect to every
 * token's log-prob, in one fused native pass; verl's formulas (see native/rl/policy_loss.h).
 */
export function policyLoss(batch: PolicyLossBatch, options: PolicyLossOptions = {}): PolicyLossResult {
  return native().policyLoss(batch, options) as PolicyLossResult
}

/**
 * The same loss as libtorch ops differentiated by autograd (what a PyTorch user writes), or, with `fused`, through
 * the fused kernel's libtorch autograd function (what the C++ trainer calls). For benchmarks and cross-checks.
 */
export function policyLossTorch(
  batch: PolicyLossBatch,
  options: PolicyLossOptions = {},
  { fused = false }: { fused?: boolean } = {},
): PolicyLossResult {
  const fn = fused ? native().policyLossAutograd : native().policyLossTorchOps
  return fn(batch, options) as PolicyLossResult
}
