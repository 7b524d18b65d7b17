/**
 * Rewards of a rollout: exact match, F1 and substring match with SQuAD / Search-R1 answer normalisation, a format
 * reward, and optional penalties (malformed output, length, repeated queries), composed by a zod-validated config.
 * Every part is returned beside the total so that metrics can report them.
 */
import { z } from 'zod'
import type { Rollout } from './rollout.js'

// Python's string.punctuation, which SQuAD's normalize_answer strips.
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')
// Python's \b(a|an|the)\b, with Unicode word characters as in Python 3's re.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu

/** SQuAD's normalize_answer: lower case, strip ASCII punctuation, drop the articles a/an/the, squeeze whitespace. */
export function normalizeAnswer(s: string): string {
  let out = ''
  for (const ch of s.toLowerCase()) if (!PUNCTUATION.has(ch)) out += ch
  return out.replace(ARTICLES, ' ').split(/\s+/).filter(Boolean).join(' ')
}

const golds = (g: string | readonly string[]) => (typeof g === 'string' ? [g] : g)

/** 1 when the normalised prediction equals a normalised gold answer (Search-R1's em_check), else 0. */
export function exactMatch(prediction: string | null | undefined, goldAnswers: string | readonly string[]): number {
  if (prediction == null) return 0
  const p = normalizeAnswer(prediction)
  return golds(goldAnswers).some((g) => normalizeAnswer(g) === p) ? 1 : 0
}

/**
 * 1 when a normalised gold answer occurs inside the normalised prediction (Search-R1's subem_check), else 0. This is
 * the paper's CEM (cover exact match): `coverExactMatch` is the same function under that name.
 */
export function substringMatch(prediction: string | null | undefined, goldAnswers: string | readonly string[]): number {
  if (prediction == null) return 0
  const p = normalizeAnswer(prediction)
  return golds(goldAnswers).some((g) => p.includes(normalizeAnswer(g))) ? 1 : 0
}

/** CEM, cover exact match (docs/method.md §3): the normalised gold answer is contained in the normalised prediction. */
export const coverExactMatch = substringMatch

/**
 * SQuAD token F1 (its v2 script): over normalised tokens, 2PR/(P+R) from the multiset overlap; when either side
 * normalises to nothing, 1 if both do, else 0. The best over the gold answers.
 */
export function f1Score(prediction: string | null | undefined, goldAnswers: string | readonly string[]): number {
  if (prediction == null) return 0
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean)
  let best = 0
  for (const g of golds(goldAnswers)) {
    const t = normalizeAnswer(g).split(' ').filter(Boolean)
    if (p.length === 0 || t.length === 0) {
      best = Math.max(best, p.length === t.length ? 1 : 0)
      continue
    }
    const counts = new Map<string, number>()
    for (const w of t) counts.set(w, (counts.get(w) ?? 0) + 1)
    let same = 0
    for (const w of p) {
      const c = counts.get(w) ?? 0
      if (c > 0) {
        same++
        counts.set(w, c - 1)
      }
    }
    if (same === 0) continue
    const precision = same / p.length
    const recall = same / t.length
    best = Math.max(best, (2 * precision * recall) / (precision + recall))
  }
  return best
}

export const RewardConfigSchema = z
  .object({
    /** Outcome metric of the answer ('cem' is 'subem' under the paper's name). */
    metric: z.enum(['em', 'f1', 'subem', 'cem']).default('em'),
    answerWeight: z.number().finite().min(0).default(1),
    /** Added when the rollout answered and every turn was well-formed. */
    formatWeight: z.number().finite().min(0).default(0),
    /** Format also requires a <think> block in every turn. */
    requireThink: z.boolean().default(false),
    /** Subtracted when the rollout ended malformed. */
    malformedPenalty: z.number().finite().min(0).default(0),
    /** coef × max(0, response tokens − freeTokens) is subtracted. */
    lengthPenalty: z.object({ coef: z.number().finite().min(0), freeTokens: z.number().int().min(0).default(0) }).strict().optional(),
    /** Subtracted per query that repeats an earlier query of the same rollout (after normalisation). */
    repeatedQueryPenalty: z.number().finite().min(0).default(0),
  })
  .strict()

export type RewardConfig = z.input<typeof RewardConfigSchema>
export type ResolvedRewardConfig = z.output<typeof RewardConfigSchema>

export interface RewardParts {
  total: number
  /** The configured metric's value (em, f1 or subem). */
  answer: number
  em: number
  f1: number
  /** Cover exact match (the gold answer contained in the prediction). */
  cem: number
  /** 1 when answered and every turn was well-formed. */
  format: number
  malformed: number
  lengthPenalty: number
  repeatedQueries: number
  repeatedQueryPenalty: number
}

export type RewardInput = Pick<Rollout, 'answer' | 'finish' | 'turns' | 'queries' | 'responseTokens'>

export function parseRewardConfig(config: RewardConfig = {}): ResolvedRewardConfig {
  const parsed = RewardConfigSchema.safeParse(config)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`reward config: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

/** Validates the config once and returns the reward function. */
export function makeReward(config: RewardConfig = {}): (rollout: RewardInput, goldAnswers: readonly string[]) => RewardParts {
  const c = parseRewardConfig(config)
  return (rollout, goldAnswers) => computeReward(rollout, goldAnswers, c)
}

export function computeReward(rollout: RewardInput, goldAnswers: readonly string[], c: ResolvedRewardConfig): RewardParts {
  const em = exactMatch(rollout.answer, goldAnswers)
  const f1 = f1Score(rollout.answer, goldAnswers)
  const cem = substringMatch(rollout.answer, goldAnswers)
  const answer = c.metric === 'em' ? em : c.metric === 'f1' ? f1 : cem
  const format =
    rollout.finish === 'answer' && rollout.turns.every((t) => t.wellFormed && (!c.requireThink || t.hasThink)) ? 1 : 0
  const malformed = rollout.finish === 'malformed' ? 1 : 0
  const lengthPenalty = c.lengthPenalty ? c.lengthPenalty.coef * Math.max(0, rollout.responseTokens - c.lengthPenalty.freeTokens) : 0
  const seen = new Set<string>()
  let repeatedQueries = 0
  for (const q of rollout.queries) {
    const n = normalizeAnswer(q)
    if (seen.has(n)) repeatedQueries++
    seen.add(n)
  }
  const repeatedQueryPenalty = c.repeatedQueryPenalty * repeatedQueries
  const total =
    c.answerWeight * answer + c.formatWeight * format - c.malformedPenalty * malformed - lengthPenalty - repeatedQueryPenalty
  // Finite weights can still overflow together; an infinite reward would turn every advantage of its group into NaN.
  if (!Number.isFinite(total)) throw new RangeError(`reward: the total is ${total} (the weights and penalties overflow); use weights of ordinary size`)
  return { total, answer, em, f1, cem, format, malformed, lengthPenalty, repeatedQueries, repeatedQueryPenalty }
}
