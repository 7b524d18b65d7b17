// Random policy-loss batches with right-padded responses: test data and benchmark inputs.
import type { PolicyLossBatch } from './types.js'

import { uniform } from '../../util/random.js'

export interface SyntheticBatchShape {
  B: number
  T: number
  tokenAdvantages?: boolean
  floatMask?: boolean
  /** Put NaN in logp/oldLogp at positions the mask hides, as padding garbage would be. */
  garbageUnderMask?: boolean
  /** Make row 0's mask all zero. */
  emptyRow?: boolean
  /** Spread of logp - oldLogp; large values exercise the clip. */
  spread?: number
}

/** A random batch with right-padded responses of random lengths and a reference policy. */
export function syntheticBatch(seed: number, s: SyntheticBatchShape): PolicyLossBatch & { refLogp: Float32Array } {
  const r = uniform(seed)
  const { B, T } = s
  const n = B * T
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
  const logp = new Float32Array(n)
  const oldLogp = new Float32Array(n)
  const refLogp = new Float32Array(n)
  const mask = s.floatMask ? new Float32Array(n) : new Uint8Array(n)
  for (let b = 0; b < B; b++) {
    const length = s.emptyRow && b === 0 ? 0 : 1 + Math.floor(r() * T)
    for (let t = 0; t < T; t++) {
      const i = b * T + t
      logp[i] = -3 * r() - 0.01
      oldLogp[i] = logp[i] + (s.spread ?? 0.3) * normal()
      refLogp[i] = logp[i] + 0.5 * normal()
      const on = t < length
      mask[i] = on ? (s.floatMask ? 0.25 + r() : 1) : 0
      if (!on && s.garbageUnderMask) {
        logp[i] = NaN
        oldLogp[i] = Number.NEGATIVE_INFINITY
      }
    }
  }
  const advantages = new Float32Array(s.tokenAdvantages ? n : B)
  for (let i = 0; i < advantages.length; i++) advantages[i] = normal()
  return { logp, oldLogp, advantages, mask, refLogp, B, T }
}
