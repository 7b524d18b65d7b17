import { native } from '../../native/loader.js'
import type { PolicyLossBatch, PolicyLossOptions, PolicyLossResult } from './types.js'

/**
 * GRPO (token-level clipped surrogate) or GSPO (sequence-level ratio) loss and its gradient with respect to every
 * token's log-prob, in one fused native pass; verl's formulas (see native/rl/policy_loss.h). `output.out` (B*T floats)
 * receives the gradient instead of a new array: reuse it across steps to skip allocating B*T floats per call.
 */
export function policyLoss(batch: PolicyLossBatch, options: PolicyLossOptions = {}, output: { out?: Float32Array } = {}): PolicyLossResult {
  return native().policyLoss(batch, options, output)
}

/**
 * The same loss as libtorch ops differentiated by autograd (what a PyTorch user writes), or, with `fused`, through
 * the fused kernel's libtorch autograd function (what the C++ trainer calls), on `device` ('cpu', 'cuda:0': the
 * fused CUDA kernel). For benchmarks and cross-checks.
 */
export function policyLossTorch(
  batch: PolicyLossBatch,
  options: PolicyLossOptions = {},
  { fused = false, device = 'cpu' }: { fused?: boolean; device?: string } = {},
): PolicyLossResult {
  const fn = fused ? native().policyLossAutograd : native().policyLossTorchOps
  return fn(batch, options, { device })
}
