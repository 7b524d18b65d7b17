/**
 * Aggregate measures of a set of rollouts against their questions: EM, F1, CEM, search calls, share of repeated queries,
 * response tokens and how rollouts ended — overall, by hop count and by data source (as the paper reports them).
 */
import type { QaExample } from '../env/types.js'
import { coverExactMatch, exactMatch, f1Score, normalizeAnswer } from './reward.js'
import type { FinishReason, Rollout } from './rollout.js'

export interface RolloutSummary {
  n: number
  em: number
  f1: number
  /** Cover exact match: the gold answer contained in the prediction, normalised like EM. */
  cem: number
  searchCalls: number
  /** Queries repeating an earlier query of the same rollout, over all queries. */
  repeatedQueryShare: number
  responseTokens: number
  /** Share of rollouts that ended with each reason. */
  finish: Record<FinishReason, number>
}

export interface Evaluation extends RolloutSummary {
  byHops: Record<string, RolloutSummary>
  byDataSource: Record<string, RolloutSummary>
  /** 'seen' / 'held-out' phrasing (questions of a world generated with phrasings; absent otherwise). */
  byPhrasing?: Record<string, RolloutSummary>
}

function summarize(pairs: Array<[Rollout, QaExample]>): RolloutSummary {
  const n = pairs.length
  const finish: Record<FinishReason, number> = { answer: 0, malformed: 0, 'max-turns': 0, 'max-tokens': 0 }
  let em = 0
  let f1 = 0
  let cem = 0
  let calls = 0
  let tokens = 0
  let queries = 0
  let repeated = 0
  for (const [r, q] of pairs) {
    em += exactMatch(r.answer, q.goldAnswers)
    f1 += f1Score(r.answer, q.goldAnswers)
    cem += coverExactMatch(r.answer, q.goldAnswers)
    calls += r.searchCalls
    tokens += r.responseTokens
    finish[r.finish]++
    const seen = new Set<string>()
    for (const query of r.queries) {
      const k = normalizeAnswer(query)
      if (seen.has(k)) repeated++
      seen.add(k)
      queries++
    }
  }
  const mean = (x: number) => (n === 0 ? 0 : x / n)
  for (const k of Object.keys(finish) as FinishReason[]) finish[k] = mean(finish[k])
  return {
    n,
    em: mean(em),
    f1: mean(f1),
    cem: mean(cem),
    searchCalls: mean(calls),
    repeatedQueryShare: queries === 0 ? 0 : repeated / queries,
    responseTokens: mean(tokens),
    finish,
  }
}

/** `examples[i]` is the question of `rollouts[i]`. */
export function evaluateRollouts(rollouts: readonly Rollout[], examples: readonly QaExample[]): Evaluation {
  if (rollouts.length !== examples.length) {
    throw new RangeError(`evaluateRollouts: ${rollouts.length} rollouts for ${examples.length} examples`)
  }
  const pairs = rollouts.map((r, i) => [r, examples[i]] as [Rollout, QaExample])
  const group = (key: (q: QaExample) => string) => {
    const m = new Map<string, Array<[Rollout, QaExample]>>()
    for (const p of pairs) {
      const k = key(p[1])
      if (!m.has(k)) m.set(k, [])
      m.get(k)!.push(p)
    }
    return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, summarize(v)]))
  }
  const phrased = examples.some((q) => q.heldOutPhrasing !== undefined)
  return {
    ...summarize(pairs),
    byHops: group((q) => String(q.hops ?? 'unknown')),
    byDataSource: group((q) => q.dataSource),
    ...(phrased ? { byPhrasing: group((q) => (q.heldOutPhrasing === undefined ? 'unknown' : q.heldOutPhrasing ? 'held-out' : 'seen')) } : {}),
  }
}
