/**
 * Behaviour features of a trajectory's action sequence, the vocabulary of the offline contrastive analyzer. Each is a
 * yes/no fact about how the agent searched and answered, stated as a verb phrase so that an experience can say "do"
 * or "do not" with it. A feature that cannot be judged for a question (no names in it, hop count unknown, …) does not
 * apply there and is left out of that question's counts.
 */
import { normalizeAnswer } from '../agent/reward.js'
import { coverage, entityTerms, termSet } from './text.js'
import type { TrajectoryGroup, TrajectoryRecord } from './types.js'

/** What a feature may know of a question: the question itself, its hop count and its gold answers (never its evidence chain). */
export interface FeatureContext {
  questionTerms: Set<string>
  entities: Set<string>
  hops?: number
  goldAnswers?: string[]
}

export interface Feature {
  key: string
  /** Lower-case verb phrase: "answer before any search". */
  phrase: string
  applies(ctx: FeatureContext): boolean
  /** undefined: the feature cannot be judged on this trajectory (e.g. "repeated query" with fewer than two queries). */
  test(t: TrajectoryRecord, ctx: FeatureContext): boolean | undefined
}

export function featureContext(g: Pick<TrajectoryGroup, 'question' | 'hops' | 'goldAnswers'>): FeatureContext {
  const ctx: FeatureContext = { questionTerms: termSet(g.question), entities: entityTerms(g.question) }
  if (g.hops !== undefined) ctx.hops = g.hops
  if (g.goldAnswers) ctx.goldAnswers = g.goldAnswers
  return ctx
}

/** Whether the i-th search's query names something the (i-1)-th search returned that the question does not give. */
const buildsOnPrevious = (s: readonly TrajectoryRecord['turns'][number][], i: number, c: FeatureContext) => {
  const prev = infoTerms(s[i - 1].information)
  for (const w of termSet(s[i].query ?? '')) if (prev.has(w) && !c.questionTerms.has(w)) return true
  return false
}

// Passage labels the environment inserts ("Doc 1(Title: …)") are not evidence.
const LABELS = new Set(['doc', 'title', 'information'])
const infoTerms = (s: string | undefined) => {
  const set = termSet(s ?? '')
  for (const l of LABELS) set.delete(l)
  return set
}

const searches = (t: TrajectoryRecord) => t.turns.filter((x) => x.action === 'search')
const ranSearches = (t: TrajectoryRecord) => searches(t).filter((x) => x.information !== undefined || x.passageIds !== undefined)

/** A search whose results share less than half of the query's terms (or returned nothing): a miss. */
function isMiss(turn: TrajectoryRecord['turns'][number]): boolean {
  if (turn.passageIds !== undefined && turn.passageIds.length === 0) return true
  if (turn.information === undefined) return false
  const q = termSet(turn.query ?? '')
  return q.size > 0 && coverage(q, infoTerms(turn.information)) < 0.5
}

const always = () => true

export const FEATURES: readonly Feature[] = [
  {
    key: 'first-query-names-entity',
    phrase: 'name the entity from the question in the first search',
    applies: (c) => c.entities.size > 0,
    test: (t, c) => t.queries.length > 0 && coverage(c.entities, termSet(t.queries[0])) > 0,
  },
  {
    key: 'query-copies-question',
    phrase: 'paste the whole question as a search query',
    applies: (c) => c.questionTerms.size >= 3,
    test: (t, c) => t.queries.some((q) => coverage(c.questionTerms, termSet(q)) >= 0.8),
  },
  {
    key: 'answer-before-evidence',
    phrase: 'answer before any search',
    applies: always,
    test: (t) => t.finish === 'answer' && t.searchCalls === 0,
  },
  {
    key: 'repeated-query',
    phrase: 'repeat an earlier search query',
    applies: always,
    test: (t) => (t.queries.length < 2 ? undefined : new Set(t.queries.map(normalizeAnswer)).size < t.queries.length),
  },
  {
    key: 'query-uses-evidence',
    phrase: 'build the next search on a name found in the previous results',
    applies: always,
    test: (t, c) => {
      const s = searches(t)
      for (let i = 1; i < s.length; i++) if (buildsOnPrevious(s, i, c)) return true
      return false
    },
  },
  {
    key: 'hops-in-order',
    phrase: "search the hops in order: the question's entity first, then each name the results give",
    applies: (c) => c.hops !== undefined && c.hops >= 2 && c.entities.size > 0,
    test: (t, c) => {
      // Judged from the attempt alone: its first search names the question's entity, and each of the next hops - 1
      // searches names something the one before returned.
      const s = searches(t)
      const h = c.hops as number
      if (s.length < h || coverage(c.entities, termSet(s[0].query ?? '')) === 0) return false
      for (let i = 1; i < h; i++) if (!buildsOnPrevious(s, i, c)) return false
      return true
    },
  },
  {
    key: 're-search-after-miss',
    phrase: 'search again with a new query when the results do not match the query',
    applies: always,
    test: (t) => {
      const s = ranSearches(t)
      return s.some((turn, i) => i + 1 < s.length && isMiss(turn) && normalizeAnswer(s[i + 1].query ?? '') !== normalizeAnswer(turn.query ?? ''))
    },
  },
  {
    key: 'answer-after-miss',
    phrase: 'answer right after results that did not match the query',
    applies: always,
    test: (t) => {
      const s = ranSearches(t)
      return t.finish === 'answer' && s.length > 0 && isMiss(s[s.length - 1])
    },
  },
  {
    key: 'fewer-searches-than-hops',
    phrase: 'answer after fewer searches than the question has hops',
    applies: (c) => c.hops !== undefined && c.hops >= 2,
    test: (t, c) => t.finish === 'answer' && t.searchCalls < (c.hops as number),
  },
  {
    key: 'over-search',
    phrase: 'keep searching well past the number of hops the question needs',
    applies: (c) => c.hops !== undefined && c.hops >= 1,
    test: (t, c) => t.searchCalls > (c.hops as number) + 1,
  },
  {
    key: 'format-error',
    phrase: 'break the tag format',
    applies: always,
    test: (t) => t.finish === 'malformed',
  },
  {
    key: 'no-answer',
    phrase: 'run out of turns or tokens without answering',
    applies: always,
    test: (t) => t.finish === 'max-turns' || t.finish === 'max-tokens',
  },
  {
    key: 'answer-not-in-evidence',
    phrase: 'give an answer that appears nowhere in the retrieved passages',
    applies: always,
    test: (t) => {
      if (t.finish !== 'answer' || t.answer === null || t.searchCalls === 0) return false
      const a = normalizeAnswer(t.answer)
      if (a === '') return false
      return !t.turns.some((x) => x.information !== undefined && normalizeAnswer(x.information).includes(a))
    },
  },
  {
    key: 'answer-is-question-entity',
    phrase: 'answer with a name that the question already gives',
    applies: (c) => c.entities.size > 0,
    test: (t, c) => t.answer !== null && [...termSet(t.answer)].some((w) => c.entities.has(w)),
  },
  {
    key: 'retrieved-answer-not-given',
    phrase: 'miss an answer that the retrieved passages contained',
    applies: (c) => (c.goldAnswers?.length ?? 0) > 0,
    test: (t, c) => {
      const gold = (c.goldAnswers ?? []).map(normalizeAnswer).filter(Boolean)
      const given = t.answer === null ? '' : normalizeAnswer(t.answer)
      if (gold.includes(given)) return false
      return t.turns.some((x) => x.information !== undefined && gold.some((g) => normalizeAnswer(x.information as string).includes(g)))
    },
  },
]

/** The features of one trajectory: true/false where a feature applies, absent where it does not. */
export function trajectoryFeatures(t: TrajectoryRecord, ctx: FeatureContext, features: readonly Feature[] = FEATURES): Map<string, boolean> {
  const out = new Map<string, boolean>()
  for (const f of features) {
    if (!f.applies(ctx)) continue
    const v = f.test(t, ctx)
    if (v !== undefined) out.set(f.key, v)
  }
  return out
}
