// The frozen reference policy kept on the TypeScript side, for a KL the native step cannot take alone: the
// internalisation variant regularises towards the experience-conditioned sampling distribution *and* keeps the paper's
// KL to the frozen reference (docs/method.md §6), and the native step takes one KL target per token.
import { existsSync, renameSync, rmSync } from 'node:fs'
import { Policy, type PolicyOptions } from '../model/policy.js'

/**
 * The reference in `dir`: loaded when a run already froze it there, else the policy's current weights frozen into it
 * (written to a temporary folder, then renamed, so an interrupted save leaves no half reference).
 */
export async function frozenReference(policy: Policy, dir: string, opts: PolicyOptions): Promise<Policy> {
  if (!existsSync(`${dir}/config.json`)) {
    const tmp = `${dir}.tmp`
    rmSync(tmp, { recursive: true, force: true })
    await policy.save(tmp)
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
  }
  return Policy.load(dir, opts)
}

/**
 * Per-token KL target of two k2 penalties in one: β·½(x − a)² + λ·½(x − b)² = (β + λ)·½(x − m)² + const with
 * m = (β a + λ b) / (β + λ), so a k2 KL of coefficient β + λ towards m has exactly the gradient of the sum.
 */
export function combinedTarget(reference: ArrayLike<number>, sampled: ArrayLike<number>, beta: number, lambda: number): Float32Array {
  const w = beta / (beta + lambda)
  return Float32Array.from({ length: sampled.length }, (_, t) => w * reference[t] + (1 - w) * sampled[t])
}
