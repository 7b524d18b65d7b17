/**
 * Case-level experiences (E1, docs/method.md §1) without an LLM: for each question with both a success and a failure, the
 * decision point where the two part ways — the first turn whose action differs (another query, an answer instead of a
 * search, a broken format) — written as one experience of that case. Its title is the query the policy has just run
 * when the decision is taken (the last query both attempts share; when they part at the first turn, the successful
 * first query), so that a later search with a similar query finds it (the paper's search-time retrieval); its
 * description says what the successful attempt did next and what the failed one did instead. The gold answer is never
 * written into it: the description names the next query, not the answer. Names become role slots (roles.ts): the
 * question's entity, the name found in step k; the title is the query as search-time retrieval sees one (queryKey), and
 * the case keeps its question in the same form, on which it is matched as well.
 */
import { normalizeAnswer } from '../agent/reward.js'
import { contrastGroup, type ContrastivePair } from './pairing.js'
import { queryKey, questionKey, roleForm } from './roles.js'
import type { Experience, TrajectoryGroup, TrajectoryRecord, TurnRecord } from './types.js'

export interface CaseOptions {
  tau: number
  rewardKey: string
  /** Decision points kept per question (distinct ones, most shared prefix first). */
  perQuestion: number
  /** Trajectory ids kept in sources. */
  maxSources: number
}

/** Where a success and a failure of one question part ways. */
export interface DecisionPoint {
  /** Index of the first turn that differs (= turns both share). */
  turn: number
  /** The last query both ran before it (undefined when they part at the first turn). */
  sharedQuery?: string
  success: TurnRecord | undefined
  failure: TurnRecord | undefined
  failureFinish: TrajectoryRecord['finish']
}

const sameTurn = (a: TurnRecord, b: TurnRecord) =>
  a.action === b.action && (a.action !== 'search' || normalizeAnswer(a.query ?? '') === normalizeAnswer(b.query ?? ''))

export function decisionPoint(success: TrajectoryRecord, failure: TrajectoryRecord): DecisionPoint {
  let k = 0
  while (k < success.turns.length && k < failure.turns.length && sameTurn(success.turns[k], failure.turns[k])) k++
  let sharedQuery: string | undefined
  for (let i = k - 1; i >= 0 && sharedQuery === undefined; i--) if (success.turns[i].action === 'search') sharedQuery = success.turns[i].query
  return { turn: k, ...(sharedQuery !== undefined && { sharedQuery }), success: success.turns[k], failure: failure.turns[k], failureFinish: failure.finish }
}

/** The words every case description is made of (a word-level tokenizer must know them). */
export const CASE_PHRASES = [
  'After searching',
  'For this question, the successful attempt first searched',
  'the successful attempt searched',
  'next;',
  'the successful attempt answered from the results;',
  'the failed attempt searched',
  'the failed attempt answered',
  'which was wrong.',
  'the failed attempt broke the format.',
  'the failed attempt ran out of turns.',
  'the failed attempt ran out of tokens.',
  'the failed attempt stopped.',
] as const

const clean = (s: string | undefined | null) => (s ?? '').replace(/\s+/g, ' ').trim()

function failedDid(p: DecisionPoint): string {
  const f = p.failure
  if (f?.action === 'search') return `the failed attempt searched ${clean(f.query)}.`
  if (f?.action === 'answer') return `the failed attempt answered ${clean(answerOf(f))}, which was wrong.`
  if (f?.action === 'invalid' || p.failureFinish === 'malformed') return 'the failed attempt broke the format.'
  if (p.failureFinish === 'max-turns') return 'the failed attempt ran out of turns.'
  if (p.failureFinish === 'max-tokens' || f?.action === 'truncated') return 'the failed attempt ran out of tokens.'
  return 'the failed attempt stopped.'
}

function answerOf(t: TurnRecord): string {
  const m = /<answer>([\s\S]*?)<\/answer>/.exec(t.text)
  return m ? m[1] : t.text
}

/** The case experience of one decision point, or undefined when the success did nothing a description can name. */
export function caseExperience(group: TrajectoryGroup, pair: ContrastivePair, p: DecisionPoint, index: number, o: CaseOptions): Experience | undefined {
  const s = p.success
  if (!s || (s.action !== 'search' && s.action !== 'answer')) return undefined
  const failed = failedDid(p)
  let title: string
  let text: string
  if (p.sharedQuery !== undefined) {
    title = clean(p.sharedQuery)
    text = s.action === 'search' ? `After searching ${title}, the successful attempt searched ${clean(s.query)} next; ${failed}` : `After searching ${title}, the successful attempt answered from the results; ${failed}`
  } else if (s.action === 'search') {
    title = clean(s.query)
    text = `For this question, the successful attempt first searched ${title}; ${failed}`
  } else return undefined // answered without searching: nothing a search query could match
  if (title === '') return undefined
  // What the attempts had read before they parted: the names in it get the role of the search that returned them.
  const results = pair.success.turns.slice(0, p.turn).filter((x) => x.action === 'search').map((x) => x.information)
  text = roleForm(text, { question: group.question, results })
  title = queryKey(title, group.question)
  const successes = group.trajectories.filter((t) => (t.reward[o.rewardKey] ?? -Infinity) >= o.tau).length
  const hops = group.hops
  return {
    id: `case:${group.questionId}:${index}`,
    type: 'E1',
    title,
    question: questionKey(group.question),
    tags: ['case', group.taskType, ...(hops !== undefined ? [`${hops}-hop`] : [])],
    text,
    thinking:
      `Question ${JSON.stringify(group.question)}: the success and the failure share ${p.turn} turn(s) and part at turn ${p.turn + 1}; ` +
      `success then ${s.action === 'search' ? `searched ${JSON.stringify(clean(s.query))}` : 'answered'}, failure ${failed.replace(/^the failed attempt /, '')}`,
    kind: 'success-pattern',
    when: hops !== undefined ? `${hops}-hop questions` : 'any question',
    taskType: group.taskType,
    ...(hops !== undefined && { hops }),
    support: group.trajectories.length,
    successRate: successes / group.trajectories.length,
    // The paper's sources: the question, then the rollouts contrasted.
    sources: [group.questionId, pair.success.id, pair.failure.id].slice(0, Math.max(1, o.maxSources)),
    origin: 'offline-case',
  }
}

/** The E1 cases of every mixed group: up to `perQuestion` distinct decision points each. */
export function caseExperiences(groups: readonly TrajectoryGroup[], o: CaseOptions): Experience[] {
  const out: Experience[] = []
  for (const group of groups) {
    const c = contrastGroup(group, { tau: o.tau, rewardKey: o.rewardKey, k: Math.max(1, o.perQuestion * 3), sameOutcome: 'skip' })
    const seen = new Set<string>()
    for (const pair of c.pairs) {
      if (seen.size >= o.perQuestion) break
      const p = decisionPoint(pair.success, pair.failure)
      const e = caseExperience(group, pair, p, seen.size, o)
      if (!e) continue
      const key = normalizeAnswer(`${e.title}|${e.text}`)
      if (seen.has(key)) continue
      seen.add(key)
      out.push(e)
    }
  }
  return out
}
