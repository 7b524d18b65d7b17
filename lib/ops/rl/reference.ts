/**
 * Plain-loop float64 implementations of the advantage estimators and policy losses: the independent reference the
 * tests check the native kernels against (and a readable statement of each formula). Not for training: slow.
 */
import type { AdvantageEstimator, KlEstimator, PolicyLossOptions } from './types.js'

type Numbers = ArrayLike<number>

export interface ReferenceAdvantageOptions {
  estimator?: AdvantageEstimator
  normalizeStd?: boolean
  eps?: number
  zeroSingletons?: boolean
  tokenCounts?: Numbers
}

export function groupAdvantages(rewards: Numbers, groupIds: Numbers, o: ReferenceAdvantageOptions = {}): Float64Array {
  const estimator = o.estimator ?? 'grpo'
  const eps = o.eps ?? 1e-6
  const members = new Map<number, number[]>()
  for (let i = 0; i < rewards.length; i++) {
    const list = members.get(groupIds[i]) ?? []
    list.push(i)
    members.set(groupIds[i], list)
  }
  const out = new Float64Array(rewards.length)
  for (const list of members.values()) {
    const n = list.length
    const values = list.map((i) => rewards[i])
    const sum = values.reduce((a, b) => a + b, 0)
    const mean = n > 1 ? sum / n : 0
    const std = n > 1 ? Math.sqrt(values.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1)) : 1
    for (const i of list) {
      const r = rewards[i]
      let a: number
      // A group of equal rewards has no signal: 0, also at eps 0 (where the formula is 0/0).
      if (estimator === 'grpo') a = n > 1 && values.every((v) => v === values[0]) ? 0 : (o.normalizeStd ?? true) ? (r - mean) / (std + eps) : r - mean
      else if (estimator === 'rloo') a = n > 1 ? r - (sum - r) / (n - 1) : r
      else a = r - mean
      out[i] = n === 1 && o.zeroSingletons ? 0 : a
    }
  }
  if (estimator === 'reinforce++-baseline') {
    const w = (i: number) => (o.tokenCounts ? o.tokenCounts[i] : 1)
    let wsum = 0
    let wx = 0
    for (let i = 0; i < out.length; i++) {
      wsum += w(i)
      wx += w(i) * out[i]
    }
    const mean = wx / wsum
    let ss = 0
    for (let i = 0; i < out.length; i++) ss += w(i) * (out[i] - mean) ** 2
    const variance = (ss / wsum) * (wsum / (wsum - 1))
    for (let i = 0; i < out.length; i++) out[i] = (out[i] - mean) / Math.sqrt(variance + 1e-8)
  }
  return out
}

export interface ReferenceBatch {
  logp: Numbers
  oldLogp: Numbers
  advantages: Numbers
  mask: Numbers
  refLogp?: Numbers
  B: number
  T: number
}

/** The reference takes the native loss's options as they are. */
export type ReferenceLossOptions = PolicyLossOptions

export interface ReferenceLoss {
  loss: number
  pgLoss: number
  kl?: number
  clipFraction: number
  approxKl: number
  gradLogp: Float64Array
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

/** KL estimator value and its derivative in logp (verl's kl_penalty: kl, mse, low_var_kl). */
export function klTerm(estimator: KlEstimator, logp: number, ref: number): { value: number; grad: number } {
  if (estimator === 'k1') return { value: logp - ref, grad: 1 }
  if (estimator === 'k2') return { value: 0.5 * (logp - ref) ** 2, grad: logp - ref }
  const d = ref - logp
  const dc = clamp(d, -20, 20)
  const k = Math.exp(dc) - dc - 1
  const live = d === dc && k <= 10
  return { value: Math.min(k, 10), grad: live ? 1 - Math.exp(dc) : 0 }
}

export function policyLoss(x: ReferenceBatch, o: ReferenceLossOptions = {}): ReferenceLoss {
  const gspo = (o.algorithm ?? 'grpo') === 'gspo'
  const clipLow = o.clipLow ?? (gspo ? 3e-4 : 0.2)
  const clipHigh = o.clipHigh ?? (gspo ? 4e-4 : 0.2)
  const aggregation = o.aggregation ?? (gspo ? 'seq-mean-token-mean' : 'token-mean')
  const klCoef = o.klCoef ?? 0
  const withKl = klCoef > 0 && x.refLogp !== undefined
  const { B, T } = x
  const at = (b: number, t: number) => b * T + t
  const adv = (b: number, t: number) => (x.advantages.length === B * T && B * T !== B ? x.advantages[at(b, t)] : x.advantages[b])

  // Aggregation weights.
  const rowMask: number[] = []
  for (let b = 0; b < B; b++) {
    let m = 0
    for (let t = 0; t < T; t++) m += x.mask[at(b, t)]
    rowMask.push(m)
  }
  const M = rowMask.reduce((a, m) => a + m, 0)
  const nonEmpty = rowMask.filter((m) => m > 0).length
  const weight = (b: number) => {
    if (rowMask[b] <= 0) return 0
    if (aggregation === 'token-mean') return 1 / M
    if (aggregation === 'seq-mean-token-mean') return 1 / (rowMask[b] * nonEmpty)
    if (aggregation === 'seq-mean-token-sum') return 1 / nonEmpty
    return 1 / (o.normLength && o.normLength > 0 ? o.normLength : T)
  }

  let pgLoss = 0
  let kl = 0
  let clipped = 0
  let negKl = 0
  const gradLogp = new Float64Array(B * T)
  for (let b = 0; b < B; b++) {
    const w = weight(b)
    let seqMean = 0
    if (gspo) {
      let s = 0
      for (let t = 0; t < T; t++) if (x.mask[at(b, t)] > 0) s += x.mask[at(b, t)] * (x.logp[at(b, t)] - x.oldLogp[at(b, t)])
      seqMean = s / Math.max(1, rowMask[b])
    }
    for (let t = 0; t < T; t++) {
      const i = at(b, t)
      const m = x.mask[i]
      if (!(m > 0)) continue
      const A = adv(b, t)
      const d = x.logp[i] - x.oldLogp[i]
      // ratio and whether its log was inside the clamp (else it carries no gradient)
      const logRatio = gspo ? Math.min(seqMean, 10) : clamp(d, -20, 20)
      const live = gspo ? seqMean <= 10 : logRatio === d
      const ratio = Math.exp(logRatio)
      negKl += m * -(gspo ? d : logRatio)
      const l1 = -A * ratio
      const l2 = -A * clamp(ratio, 1 - clipLow, 1 + clipHigh)
      let loss = Math.max(l1, l2)
      let grad = l1 >= l2 && live ? -A * ratio : 0
      if (l2 > l1) clipped += m
      if (o.dualClip !== undefined && A < 0 && -A * o.dualClip < loss) {
        loss = -A * o.dualClip
        grad = 0
      }
      pgLoss += w * m * loss
      if (withKl) {
        const k = klTerm(o.klEstimator ?? 'k3', x.logp[i], x.refLogp![i])
        kl += w * m * k.value
        grad += klCoef * k.grad
      }
      gradLogp[i] = w * m * grad
    }
  }
  return {
    loss: pgLoss + (withKl ? klCoef * kl : 0),
    pgLoss,
    ...(withKl ? { kl } : {}),
    clipFraction: M > 0 ? clipped / M : 0,
    approxKl: M > 0 ? negKl / M : 0,
    gradLogp,
  }
}
