/**
 * Contrastive pairing (docs/method.md §1). Within one question's group, a trajectory succeeded when its reward is at least τ.
 * A mixed group gives up to k (success, failure) pairs, most similar first — the longest shared prefix of actions,
 * then the closest query sets — so that the difference a distiller explains is local. An all-success or all-failure
 * group gives pattern candidates of its one outcome (or nothing, with `sameOutcome: 'skip'`).
 */
import { z } from 'zod'
import { normalizeAnswer } from '../agent/reward.js'
import { jaccard } from './text.js'
import { firstIssue, type TrajectoryGroup, type TrajectoryRecord } from './types.js'

export const PairingOptionsSchema = z
  .object({
    /** Success threshold on `reward[rewardKey]`. */
    tau: z.number().default(1),
    rewardKey: z.string().default('total'),
    /** Pairs per mixed group. */
    k: z.number().int().min(1).default(2),
    /** All-success / all-failure groups: 'candidates' (pattern candidates) or 'skip'. */
    sameOutcome: z.enum(['candidates', 'skip']).default('candidates'),
    /** Trajectories kept per candidate set. */
    maxCandidates: z.number().int().min(1).default(3),
  })
  .strict()
export type PairingOptions = z.input<typeof PairingOptionsSchema>
export type ResolvedPairingOptions = z.output<typeof PairingOptionsSchema>

export function parsePairingOptions(o: PairingOptions = {}): ResolvedPairingOptions {
  const p = PairingOptionsSchema.safeParse(o)
  if (!p.success) throw new RangeError(`pairing options: ${firstIssue(p.error)}`)
  return p.data
}

export interface ContrastivePair {
  success: TrajectoryRecord
  failure: TrajectoryRecord
  /** Actions the two share from the start. */
  sharedPrefix: number
  /** Jaccard similarity of their query sets. */
  querySimilarity: number
}

export interface GroupContrast {
  group: TrajectoryGroup
  successes: TrajectoryRecord[]
  failures: TrajectoryRecord[]
  pairs: ContrastivePair[]
  /** For an all-success or all-failure group: which outcome, and the trajectories to learn it from. */
  candidates?: { outcome: 'success' | 'failure'; trajectories: TrajectoryRecord[] }
}

export function isSuccess(t: TrajectoryRecord, o: Pick<ResolvedPairingOptions, 'tau' | 'rewardKey'>): boolean {
  return (t.reward[o.rewardKey] ?? Number.NEGATIVE_INFINITY) >= o.tau
}

/** The action sequence compared for similarity: normalised queries, then the answer (or how the rollout ended). */
export function actionSequence(t: TrajectoryRecord): string[] {
  const out = t.turns.map((turn) =>
    turn.action === 'search' ? `search:${normalizeAnswer(turn.query ?? '')}` : turn.action === 'answer' ? 'answer' : turn.action,
  )
  return out
}

function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

export function contrastGroup(group: TrajectoryGroup, options: PairingOptions = {}): GroupContrast {
  const o = parsePairingOptions(options)
  return contrast(group, o)
}

function contrast(group: TrajectoryGroup, o: ResolvedPairingOptions): GroupContrast {
  const successes = group.trajectories.filter((t) => isSuccess(t, o))
  const failures = group.trajectories.filter((t) => !isSuccess(t, o))
  const out: GroupContrast = { group, successes, failures, pairs: [] }
  if (successes.length === 0 || failures.length === 0) {
    if (o.sameOutcome === 'candidates' && group.trajectories.length > 0) {
      out.candidates = {
        outcome: successes.length > 0 ? 'success' : 'failure',
        trajectories: group.trajectories.slice(0, o.maxCandidates),
      }
    }
    return out
  }
  const seqS = successes.map(actionSequence)
  const seqF = failures.map(actionSequence)
  const qS = successes.map((t) => new Set(t.queries.map(normalizeAnswer)))
  const qF = failures.map((t) => new Set(t.queries.map(normalizeAnswer)))
  const all: Array<{ i: number; j: number; prefix: number; sim: number }> = []
  for (let i = 0; i < successes.length; i++) {
    for (let j = 0; j < failures.length; j++) {
      all.push({ i, j, prefix: sharedPrefix(seqS[i], seqF[j]), sim: jaccard(qS[i], qF[j]) })
    }
  }
  all.sort((a, b) => b.prefix - a.prefix || b.sim - a.sim || a.i - b.i || a.j - b.j)
  // First pass: each trajectory in at most one pair (more distinct contrasts); second pass fills up to k.
  const usedS = new Set<number>()
  const usedF = new Set<number>()
  const chosen: typeof all = []
  for (const c of all) {
    if (chosen.length >= o.k) break
    if (usedS.has(c.i) || usedF.has(c.j)) continue
    usedS.add(c.i)
    usedF.add(c.j)
    chosen.push(c)
  }
  for (const c of all) {
    if (chosen.length >= o.k) break
    if (!chosen.includes(c)) chosen.push(c)
  }
  out.pairs = chosen.map((c) => ({ success: successes[c.i], failure: failures[c.j], sharedPrefix: c.prefix, querySimilarity: c.sim }))
  return out
}

/** Pairs and candidates of every group. */
export function contrastivePairs(groups: readonly TrajectoryGroup[], options: PairingOptions = {}): GroupContrast[] {
  const o = parsePairingOptions(options)
  return groups.map((g) => contrast(g, o))
}
